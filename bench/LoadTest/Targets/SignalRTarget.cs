using System.Buffers.Binary;
using System.Buffers.Text;
using System.Net;
using System.Text;
using Gateway.Protocol.Frames;

namespace LoadTest.Targets;

/// <summary>
/// ASP.NET Core SignalR peer (<c>/hub?groups=..&amp;user=..</c>), spoken directly over WebSocket (no negotiate):
/// handshake <c>{"protocol":"json"|"messagepack","version":1}\u001e</c>, then invocations. The hub calls
/// <c>m(byte[] payload)</c> on recipients; the publisher invokes <c>Send(int op, int id, byte[] payload)</c>.
/// </summary>
public sealed class SignalRTarget(IPEndPoint endpoint, bool messagePack) : Target(endpoint)
{
    public override string Name => messagePack ? "signalr-msgpack" : "signalr-json";

    public override async Task<BenchConnection> ConnectAsync(ClientSpec spec, CancellationToken ct)
    {
        var c = new SignalRConnection(spec, messagePack);
        try
        {
            var path = $"/hub?user={spec.Index}" + (spec.Groups.Length > 0 ? "&groups=" + string.Join(',', spec.Groups) : string.Empty);
            await c.OpenAsync(Endpoint, path, ct).ConfigureAwait(false);
        }
        catch
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return c;
    }
}

public sealed class SignalRConnection(ClientSpec spec, bool messagePack) : BenchConnection(spec)
{
    private static readonly byte[] JsonPing = "{\"type\":6}\u001e"u8.ToArray();
    private static readonly byte[] MsgPackPing = [0x02, 0x91, 0x06];
    private readonly TaskCompletionSource<bool> _handshake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _handshakeDone;

    internal async Task OpenAsync(IPEndPoint endpoint, string path, CancellationToken ct)
    {
        await ConnectWsAsync(endpoint, Spec.Local, path, null, ct).ConfigureAwait(false);
        var hs = Encoding.UTF8.GetBytes($"{{\"protocol\":\"{(messagePack ? "messagepack" : "json")}\",\"version\":1}}\u001e");
        var w = new System.Buffers.ArrayBufferWriter<byte>();
        AppendFrame(w, 0x1, hs);
        await SendAsync(w.WrittenMemory).ConfigureAwait(false);
        StartReceiving();
        var done = await Task.WhenAny(_handshake.Task, Task.Delay(TimeSpan.FromSeconds(30), ct)).ConfigureAwait(false);
        if (done != _handshake.Task || !await _handshake.Task.ConfigureAwait(false))
        {
            throw new IOException("SignalR handshake failed: " + (LastError ?? CloseReason ?? "timeout"));
        }
    }

    public override void AddPublish(Dest dest, Priority priority, ReadOnlySpan<byte> payload)
    {
        var op = dest.Kind switch
        {
            DestKind.Broadcast => 0,
            DestKind.Group => 1,
            _ => 2,
        };
        if (messagePack)
        {
            // [1, {}, nil, "Send", [op, id, bin]] with a varint length prefix.
            Span<byte> body = stackalloc byte[32 + payload.Length];
            var p = 0;
            body[p++] = 0x95;
            body[p++] = 0x01;
            body[p++] = 0x80;
            body[p++] = 0xC0;
            body[p++] = 0xA4;
            "Send"u8.CopyTo(body[p..]);
            p += 4;
            body[p++] = 0x93;
            body[p++] = (byte)op;
            body[p++] = 0xCE; // uint32
            BinaryPrimitives.WriteUInt32BigEndian(body[p..], (uint)dest.Id);
            p += 4;
            if (payload.Length < 256)
            {
                body[p++] = 0xC4;
                body[p++] = (byte)payload.Length;
            }
            else
            {
                body[p++] = 0xC5;
                BinaryPrimitives.WriteUInt16BigEndian(body[p..], (ushort)payload.Length);
                p += 2;
            }

            payload.CopyTo(body[p..]);
            p += payload.Length;
            Span<byte> msg = stackalloc byte[p + 5];
            var n = WriteVarInt(msg, p);
            body[..p].CopyTo(msg[n..]);
            AppendFrame(Batch, 0x2, msg[..(n + p)]);
        }
        else
        {
            var json = $"{{\"type\":1,\"target\":\"Send\",\"arguments\":[{op},{dest.Id},\"{Convert.ToBase64String(payload)}\"]}}\u001e";
            AppendFrame(Batch, 0x1, Encoding.UTF8.GetBytes(json));
        }

        BatchCount++;
    }

    private static int WriteVarInt(Span<byte> dst, int value)
    {
        var i = 0;
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            if (value > 0)
            {
                b |= 0x80;
            }

            dst[i++] = b;
        }
        while (value > 0);
        return i;
    }

    protected override void OnMessage(ReadOnlySpan<byte> data, bool text)
    {
        if (!_handshakeDone)
        {
            // The handshake answer is JSON terminated by 0x1e; MessagePack messages may follow in the same frame.
            var end = data.IndexOf((byte)0x1e);
            if (end < 0)
            {
                return;
            }

            var ok = data[..end].IndexOf("\"error\""u8) < 0;
            if (!ok)
            {
                LastError = Encoding.UTF8.GetString(data[..end]);
            }

            _handshakeDone = true;
            _handshake.TrySetResult(ok);
            data = data[(end + 1)..];
        }

        if (messagePack)
        {
            while (!data.IsEmpty)
            {
                var len = 0;
                var shift = 0;
                var i = 0;
                byte b;
                do
                {
                    b = data[i++];
                    len |= (b & 0x7F) << shift;
                    shift += 7;
                }
                while ((b & 0x80) != 0);
                HandleMsgPack(data.Slice(i, len));
                data = data[(i + len)..];
            }
        }
        else
        {
            while (!data.IsEmpty)
            {
                var end = data.IndexOf((byte)0x1e);
                if (end < 0)
                {
                    break;
                }

                HandleJson(data[..end]);
                data = data[(end + 1)..];
            }
        }
    }

    private void HandleJson(ReadOnlySpan<byte> msg)
    {
        var args = msg.IndexOf("\"arguments\":[\""u8);
        if (args >= 0)
        {
            var start = args + 14;
            var end = msg[start..].IndexOf((byte)'"');
            Span<byte> payload = stackalloc byte[end];
            if (Base64.DecodeFromUtf8(msg.Slice(start, end), payload, out _, out var written) == System.Buffers.OperationStatus.Done)
            {
                Deliveries++;
                Spec.Handler.OnDelivery(this, payload[..written], Priority.Normal, 0, false, 0);
            }

            return;
        }

        if (msg.IndexOf("\"type\":6"u8) >= 0)
        {
            SendControl(JsonPing, text: true);
        }
        else if (msg.IndexOf("\"type\":7"u8) >= 0)
        {
            LastError = "close: " + Encoding.UTF8.GetString(msg);
        }
    }

    private void HandleMsgPack(ReadOnlySpan<byte> msg)
    {
        // fixarray, type
        var type = msg[1];
        if (type == 1)
        {
            var p = 2;
            p += SkipMap(msg[p..]);
            p += SkipNilOrStr(msg[p..]); // invocation id
            p += SkipNilOrStr(msg[p..]); // target
            p++; // args array header (fixarray of 1)
            int len;
            if (msg[p] == 0xC4)
            {
                len = msg[p + 1];
                p += 2;
            }
            else
            {
                len = BinaryPrimitives.ReadUInt16BigEndian(msg[(p + 1)..]);
                p += 3;
            }

            Deliveries++;
            Spec.Handler.OnDelivery(this, msg.Slice(p, len), Priority.Normal, 0, false, 0);
        }
        else if (type == 6)
        {
            SendControl(MsgPackPing, text: false);
        }
        else if (type == 7)
        {
            LastError = "close";
        }
    }

    private static int SkipMap(ReadOnlySpan<byte> s) => (s[0] & 0xF0) == 0x80 && s[0] == 0x80 ? 1 : throw new InvalidDataException("headers not supported");

    private static int SkipNilOrStr(ReadOnlySpan<byte> s)
    {
        var b = s[0];
        if (b == 0xC0)
        {
            return 1;
        }

        if ((b & 0xE0) == 0xA0)
        {
            return 1 + (b & 0x1F);
        }

        if (b == 0xD9)
        {
            return 2 + s[1];
        }

        throw new InvalidDataException($"unexpected msgpack byte 0x{b:x2}");
    }

    private void SendControl(byte[] body, bool text)
    {
        var w = new System.Buffers.ArrayBufferWriter<byte>(body.Length + 14);
        AppendFrame(w, text ? (byte)0x1 : (byte)0x2, body);
        _ = SendAsync(w.WrittenMemory).AsTask();
    }
}
