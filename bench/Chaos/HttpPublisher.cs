using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Chaos;

/// <summary>
/// The backend publisher: the HTTP API through the load balancer with the dev API key. Topic message n goes to
/// <c>chaos.{n % topics}</c> as seq <c>n / topics</c>; notification n to user <c>c{n % clients}</c> as seq n. Every
/// request carries an idempotency key, so after an unknown outcome (timeout, 502/504, connection reset) or a
/// retryable refusal it is retried with the same key for up to <see cref="RetryBudget"/> without publishing twice.
/// </summary>
public sealed class HttpPublisher : IDisposable
{
    public const int PublisherId = 1;
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RetryBudget = TimeSpan.FromSeconds(45);
    private readonly HttpClient _http;
    private readonly Ledger _ledger;
    private readonly string _keyPrefix;

    public HttpPublisher(Uri baseUri, string apiKey, Ledger ledger)
    {
        _ledger = ledger;
        _keyPrefix = "chaos-" + ledger.Run.ToString(CultureInfo.InvariantCulture) + "-";
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 256,
            PooledConnectionLifetime = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(2),
        })
        {
            BaseAddress = baseUri,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
    }

    public PublisherStats TopicStats { get; } = new("http-topics");

    public PublisherStats NotifyStats { get; } = new("http-notify");

    public Task PublishTopicAsync(long n)
    {
        var topic = (int)(n % _ledger.Topics);
        var seq = n / _ledger.Topics;
        if (seq >= _ledger.TopicSeqCapacity)
        {
            TopicStats.Skip();
            return Task.CompletedTask;
        }

        var t = topic.ToString(CultureInfo.InvariantCulture);
        var body = $"{{\"topic\":\"chaos.{t}\",\"payload\":{Payload.Json(_ledger.Run, PublisherId, seq)},\"idempotencyKey\":\"{_keyPrefix}t{t}-{seq}\"}}";
        return SendAsync("api/v1/publish", body, TopicStats, () => _ledger.AckTopic(PublisherId, topic, seq));
    }

    public Task NotifyAsync(long n)
    {
        if (n >= _ledger.NotifyCapacity)
        {
            NotifyStats.Skip();
            return Task.CompletedTask;
        }

        var user = (n % _ledger.Clients).ToString(CultureInfo.InvariantCulture);
        var body = $"{{\"user\":\"c{user}\",\"payload\":{Payload.Json(_ledger.Run, PublisherId, n)},\"idempotencyKey\":\"{_keyPrefix}n{n}\"}}";
        return SendAsync("api/v1/notify", body, NotifyStats, () => _ledger.AckNotify(n));
    }

    public void Dispose() => _http.Dispose();

    private async Task SendAsync(string path, string body, PublisherStats stats, Action onAck)
    {
        stats.Message();
        var started = Stopwatch.GetTimestamp();
        var attempt = 0;
        while (true)
        {
            stats.Attempt();
            var (outcome, error) = await AttemptAsync(path, body).ConfigureAwait(false);
            if (outcome is null)
            {
                stats.Ack();
                onAck();
                return;
            }

            stats.Error(outcome.Value, error);
            if (outcome == PublishOutcome.Fatal || Stopwatch.GetElapsedTime(started) > RetryBudget)
            {
                stats.GiveUp();
                return;
            }

            // Same idempotency key on every attempt: a retry after an unknown outcome cannot publish twice.
            attempt++;
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * (1 << Math.Min(attempt, 5))) * (0.5 + (Random.Shared.NextDouble() / 2)))).ConfigureAwait(false);
        }
    }

    private async Task<(PublishOutcome? Outcome, string Error)> AttemptAsync(string path, string body)
    {
        using var cts = new CancellationTokenSource(AttemptTimeout);
        try
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await _http.PostAsync(path, content, cts.Token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return (null, string.Empty);
            }

            var text = await response.Content.ReadAsStringAsync(cts.Token).ConfigureAwait(false);
            if (TryReadProblem(text, out var name, out var retryable))
            {
                return (retryable ? PublishOutcome.Retryable : PublishOutcome.Fatal, name);
            }

            // Not the gateway's answer: the load balancer's. 503 = no node was available (not forwarded);
            // 502/504 = the node failed or timed out mid-request (outcome unknown).
            var status = "http_" + ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            return response.StatusCode switch
            {
                HttpStatusCode.ServiceUnavailable => (PublishOutcome.Retryable, status),
                HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout => (PublishOutcome.Unknown, status),
                _ => ((int)response.StatusCode >= 500 ? PublishOutcome.Unknown : PublishOutcome.Fatal, status),
            };
        }
        catch (OperationCanceledException)
        {
            return (PublishOutcome.Unknown, "timeout");
        }
        catch (HttpRequestException ex)
        {
            return (ex.HttpRequestError is HttpRequestError.ConnectionError && ex.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused }
                ? PublishOutcome.Retryable
                : PublishOutcome.Unknown, "http_" + ex.HttpRequestError.ToString().ToLowerInvariant());
        }
    }

    private static bool TryReadProblem(string text, out string name, out bool retryable)
    {
        name = string.Empty;
        retryable = false;
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
            {
                name = error.GetString()!;
                retryable = doc.RootElement.TryGetProperty("retryable", out var r) && r.ValueKind == JsonValueKind.True;
                return true;
            }
        }
        catch (JsonException)
        {
            // HAProxy's HTML error page.
        }

        return false;
    }
}
