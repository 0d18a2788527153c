using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Ingest.UnitTests.Fuzz;

/// <summary>
/// How much one fuzz test runs per seed. In CI (no variable set): a fixed set of seeds, a fixed
/// number of cases that the test must reach, and a wall-clock bound that stops it (and fails it:
/// the cases must then be made cheaper, not fewer). Locally, <c>INGEST_FUZZ_SEED</c> runs one
/// other seed, <c>INGEST_FUZZ_CASES</c> any number of cases, and <c>INGEST_FUZZ_SECONDS</c> bounds
/// the time (unbounded when only the case count is set); <c>INGEST_FUZZ_KEEP_GOING=1</c> reports
/// every kind of failure instead of the first, and <c>INGEST_FUZZ_STRICT=1</c> fails on the known
/// deviation of System.Net.WebSockets too (never tolerated for the gateway's own code). For example:
/// <c>INGEST_FUZZ_SEED=7 INGEST_FUZZ_CASES=1000000 dotnet test tests/Ingest.UnitTests -c Release --filter "FullyQualifiedName~Fuzz"</c>.
/// </summary>
internal sealed record FuzzBudget(int Cases, TimeSpan Time, bool Enforced)
{
    public const string SeedVariable = "INGEST_FUZZ_SEED";
    public const string CasesVariable = "INGEST_FUZZ_CASES";
    public const string SecondsVariable = "INGEST_FUZZ_SECONDS";

    /// <summary>Set to 1 to fail on the known deviation of System.Net.WebSockets too (see FrameFuzzTests.RuntimeDeviation).</summary>
    public const string StrictVariable = "INGEST_FUZZ_STRICT";

    /// <summary>Set to 1 to go on after a failing case and report every kind of failure at the end (local runs).</summary>
    public const string KeepGoingVariable = "INGEST_FUZZ_KEEP_GOING";

    /// <summary>Cases every CI run must reach across the fuzz tests (issue 12, item 8).</summary>
    public const int CiMinimumCases = 100_000;

    public static bool Strict => Environment.GetEnvironmentVariable(StrictVariable) == "1";

    /// <summary>The seeds to run: <c>INGEST_FUZZ_SEED</c> when set, else the CI seeds.</summary>
    public static TheoryData<int> Seeds(params int[] ciSeeds)
    {
        var data = new TheoryData<int>();
        if (Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } seed)
        {
            data.Add(int.Parse(seed, NumberStyles.Integer, CultureInfo.InvariantCulture));
            return data;
        }

        foreach (var ciSeed in ciSeeds)
        {
            data.Add(ciSeed);
        }

        return data;
    }

    public static FuzzBudget For(int ciCases, TimeSpan ciTime)
    {
        var cases = Environment.GetEnvironmentVariable(CasesVariable);
        var seconds = Environment.GetEnvironmentVariable(SecondsVariable);
        var time = seconds is { Length: > 0 } ? TimeSpan.FromSeconds(double.Parse(seconds, CultureInfo.InvariantCulture)) : (TimeSpan?)null;
        return cases is { Length: > 0 }
            ? new FuzzBudget(int.Parse(cases, NumberStyles.Integer, CultureInfo.InvariantCulture), time ?? Timeout.InfiniteTimeSpan, Enforced: false)
            : new FuzzBudget(ciCases, time ?? ciTime, Enforced: true);
    }
}

/// <summary>
/// One seed's run of a fuzz test: hands out case numbers until the case budget or the time bound is
/// spent, counts outcomes, and reports them (seed, cases, time, outcome counts) to the test output.
/// </summary>
internal sealed class FuzzRun(string name, int seed, FuzzBudget budget, ITestOutputHelper output)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly SortedDictionary<string, long> _outcomes = new(StringComparer.Ordinal);
    private readonly bool _keepGoing = Environment.GetEnvironmentVariable(FuzzBudget.KeepGoingVariable) == "1";
    private readonly SortedDictionary<string, (int Count, string First)> _failures = new(StringComparer.Ordinal);
    private int _cases;
    private bool _outOfTime;

    public int Seed => seed;

    /// <summary>Cases started so far.</summary>
    public int Cases => _cases;

    /// <summary>The next case's index, or false when the run is over.</summary>
    public bool TryNext(out int caseIndex)
    {
        caseIndex = _cases;
        if (_cases >= budget.Cases)
        {
            return false;
        }

        if (budget.Time != Timeout.InfiniteTimeSpan && (_cases & 63) == 0 && _clock.Elapsed > budget.Time)
        {
            _outOfTime = true;
            return false;
        }

        _cases++;
        return true;
    }

    /// <summary>
    /// Runs one case's checks: a failure fails the test at once, or (keeping going) is recorded
    /// under its first line, up to the first digit, and the run goes on (false: the case failed).
    /// </summary>
    public async Task<bool> CheckAsync(Func<Task> check)
    {
        try
        {
            await check();
            return true;
        }
        catch (Xunit.Sdk.XunitException e) when (_keepGoing)
        {
            var message = e.Message;
            var line = message[(message.IndexOf("): ", StringComparison.Ordinal) + 3)..].Split('\n')[0];
            var kind = new string(line.TakeWhile(c => !char.IsAsciiDigit(c)).ToArray());
            _failures[kind] = _failures.TryGetValue(kind, out var seen) ? (seen.Count + 1, seen.First) : (1, message);
            return false;
        }
    }

    public void Count(string outcome, long by = 1) =>
        _outcomes[outcome] = _outcomes.GetValueOrDefault(outcome) + by;

    public long CountOf(string outcome) => _outcomes.GetValueOrDefault(outcome);

    public long CountStartingWith(string prefix) => _outcomes.Where(o => o.Key.StartsWith(prefix, StringComparison.Ordinal)).Sum(o => o.Value);

    /// <summary>Writes the report; in CI, fails when the time bound stopped the run short of its cases.</summary>
    public void Finish()
    {
        var report = new StringBuilder();
        report.Append(CultureInfo.InvariantCulture, $"{name}: seed {seed}, {_cases} cases in {_clock.Elapsed.TotalSeconds:0.0} s")
            .Append(_outOfTime ? $" (stopped by the {budget.Time.TotalSeconds:0} s bound)" : " (case budget reached)")
            .Append(CultureInfo.InvariantCulture, $"; rerun with {FuzzBudget.SeedVariable}={seed}");
        foreach (var (outcome, count) in _outcomes)
        {
            report.AppendLine().Append(CultureInfo.InvariantCulture, $"  {outcome}: {count}");
        }

        output.WriteLine(report.ToString());
        if (_failures.Count > 0)
        {
            Assert.Fail($"{_failures.Values.Sum(f => f.Count)} cases failed, {_failures.Count} kinds:\n" + string.Join("\n\n", _failures.Select(f => $"[{f.Value.Count}x] {f.Value.First}")));
        }

        if (budget.Enforced)
        {
            Assert.True(
                _cases >= budget.Cases,
                $"{name}, seed {seed}: only {_cases} of {budget.Cases} cases ran within {budget.Time.TotalSeconds:0} s; make each case cheaper rather than running fewer");
        }
    }

    /// <summary>What a failure message starts with: enough to reproduce the case.</summary>
    public string Where(int caseIndex) =>
        $"{name}, seed {seed}, case {caseIndex} (rerun: {FuzzBudget.SeedVariable}={seed} {FuzzBudget.CasesVariable}={caseIndex + 1})";
}
