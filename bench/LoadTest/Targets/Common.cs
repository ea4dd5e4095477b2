using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using Gateway.Protocol.Frames;
using LoadTest.Net;

namespace LoadTest.Targets;

/// <summary>Where a publish goes.</summary>
public enum DestKind
{
    Broadcast,
    Group,
    User,
}

/// <summary>A publish destination: broadcast, group topic <c>Id</c>, or personal topic of user <c>Id</c>.</summary>
public readonly record struct Dest(DestKind Kind, int Id)
{
    public static Dest All => new(DestKind.Broadcast, 0);
}

/// <summary>Receives every application message a client gets (the 64-byte bench payload inside).</summary>
public interface IDeliveryHandler
{
    void OnDelivery(BenchConnection connection, ReadOnlySpan<byte> payload, Priority priority, ulong offset, bool replayed, int topicHash);
}

/// <summary>What a client needs to connect.</summary>
public sealed record ClientSpec(int Index, int[] Groups, bool Publisher, IPAddress? Local, IDeliveryHandler Handler, bool AutoAck = false, int BufferSize = 16 * 1024);

/// <summary>Bench payload: scheduled send time (Stopwatch ticks, same monotonic clock in every process), sequence, filler.</summary>
public static class BenchPayload
{
    public const int MinSize = 16;

    public static void Write(Span<byte> dst, long scheduledTicks, long sequence)
    {
        BinaryPrimitives.WriteInt64LittleEndian(dst, scheduledTicks);
        BinaryPrimitives.WriteInt64LittleEndian(dst[8..], sequence);
    }

    public static long Ticks(ReadOnlySpan<byte> payload) => payload.Length >= 8 ? BinaryPrimitives.ReadInt64LittleEndian(payload) : 0;

    public static long Sequence(ReadOnlySpan<byte> payload) => payload.Length >= 16 ? BinaryPrimitives.ReadInt64LittleEndian(payload[8..]) : -1;
}

/// <summary>A client connection of any target: receives deliveries, and can publish in batches.</summary>
public abstract class BenchConnection : WsConnection
{
    protected BenchConnection(ClientSpec spec)
        : base(spec.BufferSize)
    {
        Spec = spec;
        Index = spec.Index;
    }

    public ClientSpec Spec { get; }

    /// <summary>Pending outgoing bytes of the current publish batch.</summary>
    protected ArrayBufferWriter<byte> Batch { get; } = new(4096);

    /// <summary>Number of publishes in the pending batch.</summary>
    public int BatchCount { get; protected set; }

    public long PublishErrors;
    public long PublishAcks;
    public long Gaps;
    public string? LastError;

    /// <summary>Appends one publish to the pending batch.</summary>
    public abstract void AddPublish(Dest dest, Priority priority, ReadOnlySpan<byte> payload);

    /// <summary>Sends the pending batch with one socket write (blocking; for the publisher thread).</summary>
    public virtual void Flush()
    {
        if (Batch.WrittenCount == 0)
        {
            return;
        }

        SendAsync(Batch.WrittenMemory).AsTask().GetAwaiter().GetResult();
        Batch.ResetWrittenCount();
        BatchCount = 0;
    }

    /// <summary>Sends the pending batch asynchronously.</summary>
    public virtual async ValueTask FlushAsync()
    {
        if (Batch.WrittenCount == 0)
        {
            return;
        }

        await SendAsync(Batch.WrittenMemory).ConfigureAwait(false);
        Batch.ResetWrittenCount();
        BatchCount = 0;
    }

    /// <summary>Closes politely (WebSocket close frame) then disposes.</summary>
    public virtual async ValueTask CloseAsync()
    {
        SendClose(this);
        await DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>A server under test.</summary>
public abstract class Target
{
    protected Target(IPEndPoint endpoint) => Endpoint = endpoint;

    public IPEndPoint Endpoint { get; }

    public abstract string Name { get; }

    /// <summary>Whether the server knows priorities, acks and offsets (ArchMesh only).</summary>
    public virtual bool IsArchMesh => false;

    public abstract Task<BenchConnection> ConnectAsync(ClientSpec spec, CancellationToken ct);

    /// <summary>One target per node: <paramref name="ports"/> (comma-separated) when given, else <paramref name="port"/>.</summary>
    public static Target[] CreateAll(string name, IPAddress ip, int port, string ports, TargetSettings settings)
    {
        var list = string.IsNullOrWhiteSpace(ports)
            ? [port]
            : ports.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => int.Parse(p, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return [.. list.Select(p => Create(name, new IPEndPoint(ip, p), settings))];
    }

    public static Target Create(string name, IPEndPoint endpoint, TargetSettings settings) => name switch
    {
        // archmesh-ws-aspnet: the same client against a gateway started with Gateway:WebSocket:Transport=aspnet
        // (bench/compare.sh); its own name keeps its results apart from the raw transport's.
        "archmesh" or "archmesh-ws" or "archmesh-ws-aspnet" => new ArchMeshTarget(endpoint, settings, tcp: false),
        "archmesh-tcp" => new ArchMeshTarget(endpoint, settings, tcp: true),
        "floor" => new SimpleWsTarget(endpoint, "floor"),
        "node-ws" => new SimpleWsTarget(endpoint, "node-ws"),
        "signalr-json" => new SignalRTarget(endpoint, messagePack: false),
        "signalr-msgpack" => new SignalRTarget(endpoint, messagePack: true),
        _ => throw new ArgumentException($"Unknown target '{name}' (archmesh-ws, archmesh-ws-aspnet, archmesh-tcp, floor, node-ws, signalr-json, signalr-msgpack)."),
    };
}

/// <summary>Settings for targets that need credentials.</summary>
public sealed record TargetSettings(string JwtSecretBase64, string JwtKeyId, string Issuer, string Audience, string? ApiKey, string PublishVia, IPEndPoint? HttpEndpoint);
