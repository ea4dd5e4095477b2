using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Gateway.Protocol;
using Gateway.Protocol.Frames;

namespace LoadTest.Targets;

/// <summary>The ArchMesh gateway, over WebSocket (<c>/ws</c>, subprotocol archmesh.v1) or raw TCP (hello + frames).</summary>
public sealed class ArchMeshTarget(IPEndPoint endpoint, TargetSettings settings, bool tcp) : Target(endpoint)
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 4 });

    public override string Name => tcp ? "archmesh-tcp" : "archmesh-ws";

    public override bool IsArchMesh => true;

    public TargetSettings Settings => settings;

    public static string GroupTopic(int g) => "group:" + g;

    public static string UserId(int i) => "u" + i;

    public override async Task<BenchConnection> ConnectAsync(ClientSpec spec, CancellationToken ct)
    {
        var c = new ArchMeshConnection(spec, this, tcp);
        try
        {
            await c.OpenAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return c;
    }

    internal static HttpClient HttpClient => Http;
}

/// <summary>One ArchMesh session: Connect → Connected, Subscribe → Subscribed, then Messages (acked on user topics when asked).</summary>
public sealed class ArchMeshConnection : BenchConnection
{
    private readonly ArchMeshTarget _target;
    private readonly bool _tcp;
    private readonly ArrayBufferWriter<byte> _out = new(256);
    private readonly ArrayBufferWriter<byte> _frames = new(4096);
    private readonly object _outLock = new();
    private readonly TaskCompletionSource<bool> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource<bool>? _subscribed;
    private int _pendingSubscribes;
    private uint _correlation;
    private readonly (int Hash, ulong Offset)[] _lastOffsets = new (int, ulong)[4];
    private int _lastOffsetCount;

    public ArchMeshConnection(ClientSpec spec, ArchMeshTarget target, bool tcp)
        : base(spec)
    {
        _target = target;
        _tcp = tcp;
    }

    public long Frames;
    public long Replayed;

    /// <summary>Called when a publish is refused (Error frame with a correlation id): the closed loop frees its slot.</summary>
    public Action? PublishRejected { get; set; }
    public string? UserId { get; private set; }

    internal async Task OpenAsync(CancellationToken ct)
    {
        if (_tcp)
        {
            await OpenSocketAsync(_target.Endpoint, Spec.Local, ct).ConfigureAwait(false);
            await SendAsync(ProtocolVersion.TcpHello.ToArray()).ConfigureAwait(false);
            var echo = await ReadExactAsync(ProtocolVersion.TcpHelloSize, ct).ConfigureAwait(false);
            if (ProtocolVersion.ValidateTcpHello(echo) != Gateway.Protocol.Errors.ErrorCode.None)
            {
                throw new IOException("Bad TCP hello echo.");
            }
        }
        else
        {
            await ConnectWsAsync(_target.Endpoint, Spec.Local, "/ws", ProtocolVersion.WebSocketSubprotocol, ct).ConfigureAwait(false);
        }

        UserId = Spec.Publisher ? "publisher" + Spec.Index : ArchMeshTarget.UserId(Spec.Index);
        var token = Jwt.Mint(
            _target.Settings,
            UserId,
            ["group:*", "bench:*", "broadcast"],
            Spec.Publisher ? ["*", "group:*", "user:*", "broadcast", "bench:*"] : [],
            TimeSpan.FromHours(2));
        FrameWriter.WriteConnect(_frames, ProtocolVersion.Current, token, "loadtest");
        await SendFramesAsync().ConfigureAwait(false);
        StartReceiving();
        using (ct.Register(() => _connected.TrySetCanceled()))
        {
            var done = await Task.WhenAny(_connected.Task, Task.Delay(TimeSpan.FromSeconds(30), ct)).ConfigureAwait(false);
            if (done != _connected.Task || !await _connected.Task.ConfigureAwait(false))
            {
                throw new IOException("No Connected frame: " + (LastError ?? CloseReason ?? "timeout"));
            }
        }

        if (Spec.Groups.Length > 0)
        {
            await SubscribeAsync(Spec.Groups.Select(ArchMeshTarget.GroupTopic).ToArray(), ct).ConfigureAwait(false);
        }
    }

    public async Task SubscribeAsync(string[] topics, CancellationToken ct)
    {
        _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _pendingSubscribes, topics.Length);
        foreach (var t in topics)
        {
            FrameWriter.WriteSubscribe(_frames, ++_correlation, t);
        }

        await SendFramesAsync().ConfigureAwait(false);
        var done = await Task.WhenAny(_subscribed.Task, Task.Delay(TimeSpan.FromSeconds(30), ct)).ConfigureAwait(false);
        if (done != _subscribed.Task || !await _subscribed.Task.ConfigureAwait(false))
        {
            throw new IOException("Subscribe failed: " + (LastError ?? CloseReason ?? "timeout"));
        }
    }

    private async Task SendFramesAsync()
    {
        var data = Wrap(_frames.WrittenSpan);
        _frames.ResetWrittenCount();
        await SendAsync(data).ConfigureAwait(false);
    }

    private byte[] Wrap(ReadOnlySpan<byte> frames)
    {
        if (_tcp)
        {
            return frames.ToArray();
        }

        var w = new ArrayBufferWriter<byte>(frames.Length + 14);
        AppendFrame(w, 0x2, frames);
        return w.WrittenSpan.ToArray();
    }

    public override void AddPublish(Dest dest, Priority priority, ReadOnlySpan<byte> payload)
    {
        var topic = dest.Kind switch
        {
            DestKind.Broadcast => "broadcast",
            DestKind.Group => ArchMeshTarget.GroupTopic(dest.Id),
            _ => "user:" + ArchMeshTarget.UserId(dest.Id),
        };
        FrameWriter.WritePublish(_frames, ++_correlation, priority, topic, payload);
        BatchCount++;
    }

    public override void Flush()
    {
        if (_frames.WrittenCount == 0)
        {
            return;
        }

        if (_target.Settings.PublishVia == "http")
        {
            PostFrames(_frames.WrittenMemory.ToArray());
            _frames.ResetWrittenCount();
            BatchCount = 0;
            return;
        }

        if (!_tcp)
        {
            // All frames of the batch in one WebSocket message (protocol §2 batching).
            AppendFrame(Batch, 0x2, _frames.WrittenSpan);
        }
        else
        {
            Batch.Write(_frames.WrittenSpan);
        }

        _frames.ResetWrittenCount();
        base.Flush();
    }

    public override ValueTask FlushAsync()
    {
        Flush();
        return ValueTask.CompletedTask;
    }

    private void PostFrames(byte[] body)
    {
        var http = _target.Settings.HttpEndpoint ?? _target.Endpoint;
        using var req = new HttpRequestMessage(HttpMethod.Post, $"http://{http}/api/v1/publish") { Content = new ByteArrayContent(body) };
        req.Content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.archmesh.frames");
        req.Headers.Add("X-Api-Key", _target.Settings.ApiKey);
        using var resp = ArchMeshTarget.HttpClient.Send(req);
        if (!resp.IsSuccessStatusCode)
        {
            Interlocked.Increment(ref PublishErrors);
            LastError = "http " + (int)resp.StatusCode;
        }
        else
        {
            Interlocked.Add(ref PublishAcks, BatchCount);
        }
    }

    public override ValueTask CloseAsync() => DisposeAsync();

    protected override int OnBytes(ReadOnlySpan<byte> data)
    {
        if (!_tcp)
        {
            return base.OnBytes(data);
        }

        var consumed = ProcessFrames(data);
        TransportMessages++;
        return consumed;
    }

    protected override void OnMessage(ReadOnlySpan<byte> payload, bool text)
    {
        if (text)
        {
            LastError = "text message";
            return;
        }

        ProcessFrames(payload);
    }

    /// <summary>Parses whole frames; returns the bytes consumed.</summary>
    private int ProcessFrames(ReadOnlySpan<byte> data)
    {
        var pos = 0;
        while (data.Length - pos >= ProtocolLimits.HeaderSize)
        {
            var len = (int)BinaryPrimitives.ReadUInt32BigEndian(data[pos..]);
            if (data.Length - pos - ProtocolLimits.HeaderSize < len)
            {
                break;
            }

            var kind = (FrameKind)data[pos + 4];
            var flags = (FrameFlags)data[pos + 5];
            var body = data.Slice(pos + ProtocolLimits.HeaderSize, len);
            Frames++;
            if (kind == FrameKind.Message)
            {
                // Fast path: prio u8, epoch u64, offset u64, timestamp u64, topic str8, payload.
                var prio = (Priority)body[0];
                var offset = BinaryPrimitives.ReadUInt64BigEndian(body[9..]);
                var topicLen = body[25];
                var topic = body.Slice(26, topicLen);
                var payload = body[(26 + topicLen)..];
                var hash = TopicHash(topic);
                var replayed = (flags & FrameFlags.Replayed) != 0;
                if (replayed)
                {
                    Replayed++;
                }
                else
                {
                    TrackOffset(hash, offset);
                }

                Deliveries++;
                Spec.Handler.OnDelivery(this, payload, prio, offset, replayed, hash);
                if (Spec.AutoAck && topic.StartsWith("user:"u8))
                {
                    lock (_outLock)
                    {
                        FrameWriter.WriteAck(_out, Encoding.UTF8.GetString(topic), offset);
                    }
                }
            }
            else
            {
                HandleOther(data.Slice(pos, ProtocolLimits.HeaderSize + len), kind);
            }

            pos += ProtocolLimits.HeaderSize + len;
        }

        return pos;
    }

    private void TrackOffset(int hash, ulong offset)
    {
        for (var i = 0; i < _lastOffsetCount; i++)
        {
            if (_lastOffsets[i].Hash == hash)
            {
                if (offset > _lastOffsets[i].Offset + 1)
                {
                    Gaps += (long)(offset - _lastOffsets[i].Offset - 1);
                }

                _lastOffsets[i].Offset = offset;
                return;
            }
        }

        if (_lastOffsetCount < _lastOffsets.Length)
        {
            _lastOffsets[_lastOffsetCount++] = (hash, offset);
        }
    }

    private static int TopicHash(ReadOnlySpan<byte> topic)
    {
        var h = 17;
        foreach (var b in topic)
        {
            h = (h * 31) + b;
        }

        return h;
    }

    private void HandleOther(ReadOnlySpan<byte> frameBytes, FrameKind kind)
    {
        var seq = new ReadOnlySequence<byte>(frameBytes.ToArray());
        var reader = new SequenceReader<byte>(seq);
        Frame f;
        try
        {
            if (!FrameReader.TryRead(ref reader, ProtocolLimits.Default, out f))
            {
                return;
            }
        }
        catch (Gateway.Protocol.Errors.ProtocolException e)
        {
            LastError = "bad frame from server: " + e.Message;
            return;
        }

        switch (kind)
        {
            case FrameKind.Connected:
                _connected.TrySetResult(true);
                break;
            case FrameKind.Subscribed:
                if (Interlocked.Decrement(ref _pendingSubscribes) == 0)
                {
                    _subscribed?.TrySetResult(true);
                }

                break;
            case FrameKind.PublishAck:
                Interlocked.Increment(ref PublishAcks);
                break;
            case FrameKind.Ping:
                lock (_outLock)
                {
                    FrameWriter.WritePong(_out, f.Value);
                }

                break;
            case FrameKind.Error:
                LastError = $"{f.ErrorCode}: {f.Text}";
                if (f.CorrelationId != 0 && _subscribed is { Task.IsCompleted: false } && Volatile.Read(ref _pendingSubscribes) > 0)
                {
                    _subscribed.TrySetResult(false);
                }
                else if (f.CorrelationId != 0)
                {
                    Interlocked.Increment(ref PublishErrors);
                    PublishRejected?.Invoke();
                }

                _connected.TrySetResult(false);
                break;
            case FrameKind.GoAway:
                LastError = "goaway: " + f.Text;
                break;
        }
    }

    protected override async ValueTask AfterBatchAsync()
    {
        byte[]? data = null;
        lock (_outLock)
        {
            if (_out.WrittenCount > 0)
            {
                data = Wrap(_out.WrittenSpan);
                _out.ResetWrittenCount();
            }
        }

        if (data != null)
        {
            await SendAsync(data).ConfigureAwait(false);
        }
    }

    protected override void OnClosed()
    {
        _connected.TrySetResult(false);
        _subscribed?.TrySetResult(false);
    }

    /// <summary>Reconnect helper for the notify scenario: a fresh connection object for the same user.</summary>
    public Task<BenchConnection> ReconnectAsync(CancellationToken ct) => _target.ConnectAsync(Spec, ct);
}
