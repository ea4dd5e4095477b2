using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Protocol.Tests;

/// <summary>
/// The golden-vector JSON form of a frame (test/vectors/README.md): decoding a <see cref="Frame"/> to it,
/// and encoding it with the kind-specific <see cref="FrameWriter"/> methods (independently of
/// <see cref="FrameWriter.Write(IBufferWriter{byte}, in Frame)"/>).
/// </summary>
internal static class FrameJson
{
    public static JsonObject ToJson(in Frame f)
    {
        var o = new JsonObject { ["kind"] = f.Kind.ToString(), ["flags"] = (int)f.Flags };
        switch (f.Kind)
        {
            case FrameKind.Connect:
                o["version"] = (int)f.Version;
                o["token"] = Frame.Decode(f.Text1);
                o["clientName"] = Frame.Decode(f.Text2);
                o["resumeToken"] = Frame.Decode(f.Text3);
                break;
            case FrameKind.Connected:
                o["heartbeatMs"] = f.Milliseconds;
                o["maxFrameLength"] = f.MaxFrameLength;
                o["maxSubscriptions"] = (int)f.MaxSubscriptions;
                o["connectionId"] = Frame.Decode(f.Text1);
                o["nodeId"] = Frame.Decode(f.Text2);
                o["userId"] = Frame.Decode(f.Text3);
                break;
            case FrameKind.Subscribe or FrameKind.Subscribed:
                o["correlationId"] = f.CorrelationId;
                o["epoch"] = U64(f.Epoch);
                o["offset"] = U64(f.Offset);
                o["topic"] = f.TopicString;
                break;
            case FrameKind.Unsubscribe or FrameKind.Unsubscribed:
                o["correlationId"] = f.CorrelationId;
                o["topic"] = f.TopicString;
                break;
            case FrameKind.Publish:
                o["correlationId"] = f.CorrelationId;
                o["priority"] = (int)f.Priority;
                o["topic"] = f.TopicString;
                o["payloadHex"] = Convert.ToHexStringLower(f.Payload.ToArray());
                break;
            case FrameKind.PublishAck:
                o["correlationId"] = f.CorrelationId;
                o["epoch"] = U64(f.Epoch);
                o["offset"] = U64(f.Offset);
                break;
            case FrameKind.Message:
                o["priority"] = (int)f.Priority;
                o["epoch"] = U64(f.Epoch);
                o["offset"] = U64(f.Offset);
                o["timestamp"] = U64((ulong)f.Value);
                o["topic"] = f.TopicString;
                o["payloadHex"] = Convert.ToHexStringLower(f.Payload.ToArray());
                break;
            case FrameKind.Ack:
                o["offset"] = U64(f.Offset);
                o["topic"] = f.TopicString;
                break;
            case FrameKind.Ping or FrameKind.Pong:
                o["nonce"] = U64((ulong)f.Value);
                break;
            case FrameKind.Error:
                o["errorCode"] = (int)f.ErrorCode;
                o["correlationId"] = f.CorrelationId;
                o["text"] = f.Text;
                break;
            case FrameKind.GoAway:
                o["reconnectDelayMs"] = f.Milliseconds;
                o["text"] = f.Text;
                break;
            case FrameKind.Refresh:
                o["correlationId"] = f.CorrelationId;
                o["token"] = f.Token;
                break;
            case FrameKind.Refreshed:
                o["correlationId"] = f.CorrelationId;
                o["expiresAt"] = U64((ulong)f.Value);
                break;
            default:
                throw new InvalidOperationException($"Unexpected kind {f.Kind}.");
        }

        return o;
    }

    /// <summary>Encodes a JSON frame with the kind-specific writer method; returns the bytes written.</summary>
    public static int Encode(IBufferWriter<byte> w, JsonNode node)
    {
        var o = node.AsObject();
        var kind = Enum.Parse<FrameKind>((string)o["kind"]!);
        var flags = (FrameFlags)(int)o["flags"]!;
        switch (kind)
        {
            case FrameKind.Connect:
                return FrameWriter.WriteConnect(w, (byte)(int)o["version"]!, S(o, "token"), S(o, "clientName"), S(o, "resumeToken"));
            case FrameKind.Connected:
                return FrameWriter.WriteConnected(w, (uint)o["heartbeatMs"]!, (uint)o["maxFrameLength"]!, (ushort)(int)o["maxSubscriptions"]!, S(o, "connectionId"), S(o, "nodeId"), S(o, "userId"));
            case FrameKind.Subscribe:
                if (flags == FrameFlags.None && (L(o, "epoch") != 0 || L(o, "offset") != 0))
                {
                    throw new InvalidOperationException("A Subscribe without Recover carries a zero position.");
                }

                return FrameWriter.WriteSubscribe(w, C(o), S(o, "topic"), flags == FrameFlags.Recover ? new StreamPosition(L(o, "epoch"), L(o, "offset")) : null);
            case FrameKind.Subscribed:
                return FrameWriter.WriteSubscribed(w, C(o), S(o, "topic"), L(o, "epoch"), L(o, "offset"), flags);
            case FrameKind.Unsubscribe:
                return FrameWriter.WriteUnsubscribe(w, C(o), S(o, "topic"));
            case FrameKind.Unsubscribed:
                return FrameWriter.WriteUnsubscribed(w, C(o), S(o, "topic"));
            case FrameKind.Publish:
                return FrameWriter.WritePublish(w, C(o), (Priority)(int)o["priority"]!, S(o, "topic"), Convert.FromHexString(S(o, "payloadHex")));
            case FrameKind.PublishAck:
                return FrameWriter.WritePublishAck(w, C(o), L(o, "epoch"), L(o, "offset"));
            case FrameKind.Message:
                return FrameWriter.WriteMessage(w, Encoding.UTF8.GetBytes(S(o, "topic")), (Priority)(int)o["priority"]!, L(o, "epoch"), L(o, "offset"), (long)L(o, "timestamp"), Convert.FromHexString(S(o, "payloadHex")), flags);
            case FrameKind.Ack:
                return FrameWriter.WriteAck(w, S(o, "topic"), L(o, "offset"));
            case FrameKind.Ping:
                return FrameWriter.WritePing(w, (long)L(o, "nonce"));
            case FrameKind.Pong:
                return FrameWriter.WritePong(w, (long)L(o, "nonce"));
            case FrameKind.Error:
                return FrameWriter.WriteError(w, (ErrorCode)(ushort)(int)o["errorCode"]!, C(o), S(o, "text"));
            case FrameKind.GoAway:
                return FrameWriter.WriteGoAway(w, (uint)o["reconnectDelayMs"]!, S(o, "text"));
            case FrameKind.Refresh:
                return FrameWriter.WriteRefresh(w, C(o), S(o, "token"));
            case FrameKind.Refreshed:
                return FrameWriter.WriteRefreshed(w, C(o), (long)L(o, "expiresAt"));
            default:
                throw new InvalidOperationException($"Unexpected kind {kind}.");
        }
    }

    public static byte[] EncodeAll(IEnumerable<JsonNode?> frames)
    {
        var w = new ArrayBufferWriter<byte>();
        foreach (var f in frames)
        {
            Encode(w, f!);
        }

        return w.WrittenSpan.ToArray();
    }

    private static string U64(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    private static string S(JsonObject o, string name) => (string)o[name]!;

    private static uint C(JsonObject o) => (uint)o["correlationId"]!;

    private static ulong L(JsonObject o, string name) => ulong.Parse(S(o, name), CultureInfo.InvariantCulture);
}
