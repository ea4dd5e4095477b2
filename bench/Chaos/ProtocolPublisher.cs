using System.Globalization;
using Gateway.Client;

namespace Chaos;

/// <summary>
/// The protocol publisher: a <see cref="GatewayClient"/> with a publisher token, connected to one node directly
/// (that node first in its endpoint list, the others after, so it fails over), publishing with acks. Message n
/// goes to <c>chaos.{n % topics}</c> as seq <c>n / topics</c>. Not retried: the protocol has no idempotency key, so
/// a retry after an unknown outcome could publish twice; an unacknowledged message is simply not counted.
/// </summary>
public sealed class ProtocolPublisher(Ledger ledger)
{
    public const int PublisherId = 0;

    private GatewayClient? _client;

    public PublisherStats Stats { get; } = new("protocol");

    public string? Node => _client?.Connection?.NodeId;

    public async Task StartAsync(IReadOnlyList<Uri> endpoints, string token, TimeSpan heartbeat, CancellationToken cancellationToken)
    {
        _client = await GatewayClient.ConnectAsync(
            new GatewayClientOptions
            {
                Endpoints = endpoints,
                Token = token,
                ClientName = "archmesh-chaos-publisher/1.0",
                RetryOnInitialConnect = true,
                ConnectTimeout = TimeSpan.FromSeconds(10),
                RequestTimeout = TimeSpan.FromSeconds(10),
                HeartbeatInterval = heartbeat > TimeSpan.Zero ? heartbeat : null,
                ReceiveNotifications = false,
                ReceiveBroadcasts = false,
            },
            cancellationToken).ConfigureAwait(false);
    }

    public async Task PublishAsync(long n)
    {
        var topic = (int)(n % ledger.Topics);
        var seq = n / ledger.Topics;
        if (seq >= ledger.TopicSeqCapacity || _client is null)
        {
            Stats.Skip();
            return;
        }

        Stats.Message();
        Stats.Attempt();
        try
        {
            await _client.PublishAsync("chaos." + topic.ToString(CultureInfo.InvariantCulture), Payload.Encode(ledger.Run, PublisherId, seq)).ConfigureAwait(false);
            Stats.Ack();
            ledger.AckTopic(PublisherId, topic, seq);
        }
        catch (GatewayConnectionException)
        {
            Stats.Error(PublishOutcome.Unknown, "connection_lost");
            Stats.GiveUp();
        }
        catch (GatewayException ex)
        {
            Stats.Error(ex.IsRetryable ? PublishOutcome.Retryable : PublishOutcome.Fatal, ex.ErrorName);
            Stats.GiveUp();
        }
        catch (TimeoutException)
        {
            Stats.Error(PublishOutcome.Unknown, "timeout");
            Stats.GiveUp();
        }
        catch (ObjectDisposedException)
        {
            Stats.GiveUp();
        }
    }

    public async Task StopAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync().ConfigureAwait(false);
        }
    }
}
