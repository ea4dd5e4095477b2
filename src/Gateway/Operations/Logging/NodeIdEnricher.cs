using Serilog.Core;
using Serilog.Events;

namespace Gateway.Operations.Logging;

/// <summary>Adds <c>NodeId</c> to every event (resolved on first use, when configuration is final).</summary>
internal sealed class NodeIdEnricher : ILogEventEnricher
{
    private readonly Lazy<string> _nodeId;
    private LogEventProperty? _property;

    public NodeIdEnricher(Lazy<string> nodeId) => _nodeId = nodeId;

    /// <inheritdoc />
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory) =>
        logEvent.AddPropertyIfAbsent(_property ??= new LogEventProperty("NodeId", new ScalarValue(_nodeId.Value)));
}
