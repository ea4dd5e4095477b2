using System.Diagnostics.Metrics;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Hosting;

/// <summary>
/// Host metrics on the <c>Gateway.Host</c> meter (§6). Labels are bounded enumerations (transport,
/// frame kind, close reason, error name); there are never per-connection labels. Frame counters are
/// added once per kind per write batch, not once per frame, to keep the write path cheap.
/// </summary>
public sealed class GatewayMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Gateway.Host";

    private static readonly string[] KindNames = BuildKindNames();

    private readonly Counter<long> _opened;
    private readonly Counter<long> _closed;
    private readonly Counter<long> _framesIn;
    private readonly Counter<long> _framesOut;
    private readonly Counter<long> _bytesIn;
    private readonly Counter<long> _bytesOut;
    private readonly Counter<long> _authFailures;
    private readonly Counter<long> _protocolErrors;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _publishBackoffs;
    private readonly Counter<long> _publishRefused;
    private readonly Histogram<double> _endToEnd;
    private long _current;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>.</summary>
    public GatewayMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
#pragma warning disable CA2000 // the meter belongs to the factory, which disposes it with the host
        var meter = meterFactory.Create(MeterName);
#pragma warning restore CA2000
        meter.CreateObservableUpDownCounter("gateway.connections.current", () => Volatile.Read(ref _current), "{connection}", "Open client connections (WebSocket and TCP).");
        _opened = meter.CreateCounter<long>("gateway.connections.opened", "{connection}", "Client connections accepted, by transport.");
        _closed = meter.CreateCounter<long>("gateway.connections.closed", "{connection}", "Client connections closed, by reason.");
        _refused = meter.CreateCounter<long>("gateway.connections.refused", "{connection}", "Connection attempts refused before the protocol started, by reason.");
        _framesIn = meter.CreateCounter<long>("gateway.frames.in", "{frame}", "Frames received from clients, by kind.");
        _framesOut = meter.CreateCounter<long>("gateway.frames.out", "{frame}", "Frames written to clients, by kind.");
        _bytesIn = meter.CreateCounter<long>("gateway.bytes.in", "By", "Frame bytes received from clients, by kind.");
        _bytesOut = meter.CreateCounter<long>("gateway.bytes.out", "By", "Frame bytes written to clients, by kind.");
        _authFailures = meter.CreateCounter<long>("gateway.auth.failures", "{failure}", "Failed token or API key checks, by reason.");
        _protocolErrors = meter.CreateCounter<long>("gateway.protocol.errors", "{error}", "Protocol errors sent to clients, by error name.");
        _publishBackoffs = meter.CreateCounter<long>("gateway.publish.backoffs", "{pause}", "Times a publishing connection stopped being read because the dispatch backlog was full (pushback).");
        _publishRefused = meter.CreateCounter<long>("gateway.publish.refused", "{publish}", "Protocol publishes not published because of the node's state, by reason (draining); with a correlation id they were answered with an Error, without one dropped.");
        _endToEnd = meter.CreateHistogram<double>(
            "gateway.delivery.latency",
            "s",
            "Publish (message timestamp) to socket write, sampled once per write batch (its oldest live message).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    }

    /// <summary>Open connections now.</summary>
    public long CurrentConnections => Volatile.Read(ref _current);

    internal static string KindName(FrameKind kind) => (int)kind < KindNames.Length ? KindNames[(int)kind] : "unknown";

    internal void ConnectionOpened(string transport)
    {
        Interlocked.Increment(ref _current);
        _opened.Add(1, new KeyValuePair<string, object?>("transport", transport));
    }

    internal void ConnectionClosed(string reason)
    {
        Interlocked.Decrement(ref _current);
        _closed.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    internal void ConnectionRefused(string reason) => _refused.Add(1, new KeyValuePair<string, object?>("reason", reason));

    internal void FrameIn(FrameKind kind, int bytes)
    {
        var tag = new KeyValuePair<string, object?>("kind", KindName(kind));
        _framesIn.Add(1, tag);
        _bytesIn.Add(bytes, tag);
    }

    internal void FramesOut(FrameKind kind, long frames, long bytes)
    {
        var tag = new KeyValuePair<string, object?>("kind", KindName(kind));
        _framesOut.Add(frames, tag);
        _bytesOut.Add(bytes, tag);
    }

    internal void AuthFailure(string reason) => _authFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    internal void ProtocolError(ErrorCode code) => _protocolErrors.Add(1, new KeyValuePair<string, object?>("error", ErrorCatalog.Get(code).Name));

    internal void PublishBackoff() => _publishBackoffs.Add(1);

    internal void PublishRefused(string reason) => _publishRefused.Add(1, new KeyValuePair<string, object?>("reason", reason));

    internal void DeliveryLatency(double seconds) => _endToEnd.Record(seconds);

    private static string[] BuildKindNames()
    {
        var names = new string[(int)FrameKind.Refreshed + 1];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = Enum.IsDefined((FrameKind)i) ? ((FrameKind)i).ToString().ToLowerInvariant() : "unknown";
        }

        return names;
    }
}
