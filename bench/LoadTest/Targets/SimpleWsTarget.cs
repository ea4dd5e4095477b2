using System.Buffers.Binary;
using System.Net;
using Gateway.Protocol.Frames;

namespace LoadTest.Targets;

/// <summary>
/// The floor server and the Node <c>ws</c> peer: <c>/ws?groups=1,2&amp;user=7</c>. A publisher sends binary
/// messages <c>[op u8][id u32 BE][payload]</c> (op 0 = everyone, 1 = group id, 2 = user id); the server sends
/// the payload bytes as one binary message to each recipient.
/// </summary>
public sealed class SimpleWsTarget(IPEndPoint endpoint, string name) : Target(endpoint)
{
    public override string Name => name;

    public override async Task<BenchConnection> ConnectAsync(ClientSpec spec, CancellationToken ct)
    {
        var c = new SimpleWsConnection(spec);
        try
        {
            var path = $"/ws?user={spec.Index}" + (spec.Groups.Length > 0 ? "&groups=" + string.Join(',', spec.Groups) : string.Empty);
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

public sealed class SimpleWsConnection(ClientSpec spec) : BenchConnection(spec)
{
    internal async Task OpenAsync(IPEndPoint endpoint, string path, CancellationToken ct)
    {
        await ConnectWsAsync(endpoint, Spec.Local, path, null, ct).ConfigureAwait(false);
        StartReceiving();
    }

    public override void AddPublish(Dest dest, Priority priority, ReadOnlySpan<byte> payload)
    {
        Span<byte> msg = stackalloc byte[5 + payload.Length];
        msg[0] = dest.Kind switch
        {
            DestKind.Broadcast => 0,
            DestKind.Group => 1,
            _ => 2,
        };
        BinaryPrimitives.WriteUInt32BigEndian(msg[1..], (uint)dest.Id);
        payload.CopyTo(msg[5..]);
        AppendFrame(Batch, 0x2, msg);
        BatchCount++;
    }

    protected override void OnMessage(ReadOnlySpan<byte> payload, bool text)
    {
        Deliveries++;
        Spec.Handler.OnDelivery(this, payload, Priority.Normal, 0, false, 0);
    }
}
