namespace Ingest.Gateway.Pipeline;

/// <summary>
/// Bytes of the <see cref="MemoryBudget"/> that travel with one message: from its reassembly buffer
/// to its pipeline item, back to the budget once Kafka resolves it.
/// </summary>
internal readonly record struct MemoryLease(MemoryBudget? Budget, long Bytes)
{
    public static MemoryLease None => default;

    public void Release() => Budget?.Release(Bytes);
}
