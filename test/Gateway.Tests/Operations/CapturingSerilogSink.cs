using System.Collections.Concurrent;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;
using Serilog.Formatting.Display;

namespace Gateway.Tests.Operations;

/// <summary>
/// A Serilog sink registered in the app's DI (the gateway reads sinks from services): keeps every event
/// exactly as the production formatters write it (compact JSON, rendered compact JSON, console text).
/// </summary>
internal sealed class CapturingSerilogSink : ILogEventSink
{
    private readonly CompactJsonFormatter _json = new();
    private readonly RenderedCompactJsonFormatter _rendered = new();
    private readonly MessageTemplateTextFormatter _text = new("[{Level:u3}] {NodeId} {SourceContext}{ConnectionId: conn=}: {Message:lj} {Properties:j}{NewLine}{Exception}");

    public ConcurrentQueue<LogEvent> Events { get; } = new();

    public ConcurrentQueue<string> Output { get; } = new();

    public void Emit(LogEvent logEvent)
    {
        Events.Enqueue(logEvent);
        foreach (var formatter in new Serilog.Formatting.ITextFormatter[] { _json, _rendered, _text })
        {
            using var writer = new StringWriter();
            formatter.Format(logEvent, writer);
            Output.Enqueue(writer.ToString());
        }
    }

    public string AllOutput => string.Concat(Output);
}
