namespace Ingest.UnitTests.Fuzz;

/// <summary>
/// A small deterministic generator (SplitMix64) for the fuzz tests: the same seed gives the same
/// inputs on every machine and .NET version, and each case has its own stream derived from the
/// seed and the case's index, so that a case does not depend on how much the previous ones drew.
/// </summary>
internal sealed class FuzzRandom(ulong state)
{
    private ulong _state = state;

    /// <summary>The generator of one case of a run.</summary>
    public static FuzzRandom For(int seed, long caseIndex) =>
        new(Mix(((ulong)(uint)seed << 32) ^ Mix((ulong)caseIndex + 0x5851F42D4C957F2DUL)));

    public ulong NextUInt64()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        return Mix(z);
    }

    /// <summary>0 to <paramref name="max"/> - 1.</summary>
    public int Next(int max) => max <= 1 ? 0 : (int)((NextUInt64() >> 33) % (ulong)max);

    /// <summary><paramref name="min"/> to <paramref name="max"/> - 1.</summary>
    public int Next(int min, int max) => min + Next(max - min);

    /// <summary>True with probability <paramref name="percent"/> / 100.</summary>
    public bool Percent(int percent) => Next(100) < percent;

    /// <summary>True once in <paramref name="n"/> draws on average.</summary>
    public bool OneIn(int n) => Next(n) == 0;

    public long NextInt64(long min, long max) => min + (long)(NextUInt64() % (ulong)(max - min));

    public byte NextByte() => (byte)(NextUInt64() >> 56);

    public T Pick<T>(T[] items) => items[Next(items.Length)];

    public void Fill(Span<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = NextByte();
        }
    }

    /// <summary>A new generator drawn from this one (for a part of a case that draws independently).</summary>
    public FuzzRandom Fork() => new(NextUInt64());

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
