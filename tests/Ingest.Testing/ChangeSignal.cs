namespace Ingest.Testing;

/// <summary>
/// State that a background loop changes and a test waits on: <see cref="Publish"/> changes it under
/// <see cref="Gate"/> and wakes every waiter, which re-checks its condition. Tests wait for what they
/// expect, bounded by a timeout, without sleeping.
/// </summary>
internal sealed class ChangeSignal
{
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The lock that guards the observed state.</summary>
    public Lock Gate { get; } = new();

    public void Publish(Action change)
    {
        TaskCompletionSource changed;
        lock (Gate)
        {
            change();
            (changed, _changed) = (_changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        changed.TrySetResult();
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds. Throws when <paramref name="endedReason"/> says
    /// nothing more can change (its text is the reason) or after <paramref name="timeout"/>; both
    /// messages end with <paramref name="describe"/>'s account of the state.
    /// </summary>
    public async Task WaitUntilAsync(
        Func<bool> condition, string what, TimeSpan timeout, Func<string?> endedReason, Func<string> describe, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            Task changed;
            lock (Gate)
            {
                changed = _changed.Task;
            }

            if (condition())
            {
                return;
            }

            if (endedReason() is { } reason)
            {
                throw new InvalidOperationException($"{reason} while waiting for {what}; {describe()}");
            }

            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"Timed out waiting for {what}; {describe()}");
            }

            await Task.WhenAny(changed, Task.Delay(remaining, cancellationToken));
        }
    }
}
