namespace Gateway.Client.Tests.Infrastructure;

/// <summary>Generous waits for a loaded 2-core machine: they end as soon as the awaited thing happens.</summary>
public static class TestWait
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>The next item of a subscription (fails the test after the timeout).</summary>
    public static async Task<GatewayMessage> NextAsync(this GatewaySubscription subscription)
    {
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            return await subscription.Messages.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No message on {subscription.Topic} within {Timeout.TotalSeconds} s.");
        }
    }

    /// <summary>The next <paramref name="count"/> items.</summary>
    public static async Task<List<GatewayMessage>> NextAsync(this GatewaySubscription subscription, int count)
    {
        var items = new List<GatewayMessage>();
        for (var i = 0; i < count; i++)
        {
            items.Add(await subscription.NextAsync());
        }

        return items;
    }

    /// <summary>Waits for a state change matching <paramref name="match"/> (subscribe before triggering it).</summary>
    public static Task<ConnectionStateChangedEventArgs> StateAsync(this GatewayClient client, Func<ConnectionStateChangedEventArgs, bool> match)
    {
        var tcs = new TaskCompletionSource<ConnectionStateChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.StateChanged += (_, e) =>
        {
            if (match(e))
            {
                tcs.TrySetResult(e);
            }
        };
        return tcs.Task.WaitAsync(Timeout);
    }

    /// <summary>Waits for the next resubscribe report of a subscription.</summary>
    public static Task<SubscriptionRecoveryEventArgs> ResubscribedAsync(this GatewaySubscription subscription)
    {
        var tcs = new TaskCompletionSource<SubscriptionRecoveryEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        subscription.Resubscribed += (_, e) => tcs.TrySetResult(e);
        return tcs.Task.WaitAsync(Timeout);
    }
}
