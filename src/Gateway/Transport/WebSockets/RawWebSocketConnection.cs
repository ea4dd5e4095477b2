using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.InteropServices;
using Gateway.Hosting;
using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.WebSockets;
using Microsoft.AspNetCore.Connections;

namespace Gateway.Transport.WebSockets;

/// <summary>
/// A client on <c>/ws</c> served by the gateway's own RFC 6455 server, straight on Kestrel's transport pipes.
/// <para>
/// Receive: WebSocket frames are parsed in place from the transport's <see cref="PipeReader"/> and their payload is
/// unmasked in place, then handed to the protocol's frame reader as a slice of the same buffer: no copy while a
/// protocol frame lies within one WebSocket frame. A protocol frame split across WebSocket frames (fragments of one
/// message) is assembled in a carry buffer rented for just that frame (bounded by <c>MaxFrameLength + 6</c>, returned
/// as soon as the frame is complete). A protocol frame must not span two messages (malformed_frame, as before). Control
/// frames may come between fragments; a ping is answered with a pong (the latest ping of a read), a close frame is
/// echoed with its code and reason.
/// </para>
/// <para>
/// Send: each batch is one binary message whose header and frames are written straight into the transport's
/// <see cref="PipeWriter"/>, one flush per batch. Pongs and the close frame go through the same lock, so writes never
/// interleave. An idle connection holds no buffer: Kestrel's pipes return their segments when empty.
/// </para>
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "_writeLock is disposed in OnClosed, the last step of RunAsync, which owns the connection's lifetime.")]
internal sealed class RawWebSocketConnection : ClientConnection
{
    private readonly ConnectionContext _context;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly PayloadReader _payloadReader = new();
    private readonly int _maxCarry;
    private WebSocketMessageTracker _messages;

    // The data frame being received.
    private bool _inFrame;
    private bool _frameFin;
    private uint _maskKey;
    private long _payloadLeft;
    private long _payloadOffset;
    private long _unmaskedAhead;

    // A protocol frame split across WebSocket frames.
    private byte[]? _carry;
    private int _carryLength;

    // Control frames: the payload (unmasked), the latest ping to answer, the peer's close.
    private byte[]? _control;
    private byte[]? _pong;
    private int _pongLength = -1;
    private bool _peerClosed;
    private ushort _peerCloseCode;
    private byte[]? _peerCloseReason;

    private bool _stopFeeding;
    private bool _closeSent;

    public RawWebSocketConnection(ConnectionServices services, ConnectionContext context, IPAddress? remoteAddress, int maxMessageBytes)
        : base(services, remoteAddress, "websocket")
    {
        _context = context;
        _input = context.Transport.Input;
        _output = context.Transport.Output;
        _messages = new WebSocketMessageTracker(maxMessageBytes);
        _maxCarry = services.Limits.MaxFrameLength + ProtocolLimits.HeaderSize;
    }

    private protected override async Task<CloseRequest> ReceiveLoopAsync()
    {
        while (true)
        {
            // Kestrel's socket transport waits for data before renting a buffer: idle connections hold none.
            var result = await _input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            var position = buffer.Start;
            CloseRequest? end = null;
            try
            {
                while (true)
                {
                    if (!_inFrame)
                    {
                        if (!TryReadHeader(buffer.Slice(position), out var header, out var afterHeader))
                        {
                            break;
                        }

                        if (header.IsControl)
                        {
                            if (buffer.Slice(afterHeader).Length < header.PayloadLength)
                            {
                                break; // wait for the whole control frame (at most 125 bytes)
                            }

                            var payload = buffer.Slice(afterHeader, header.PayloadLength);
                            position = payload.End;
                            end = OnControlFrame(header, payload);
                            if (end is not null)
                            {
                                break;
                            }

                            continue;
                        }

                        try
                        {
                            _messages.OnDataFrame(header);
                        }
                        catch (WebSocketProtocolException e)
                        {
                            // Text, too big, or out of sequence: the framing itself is sound, so the payload is skipped
                            // and frames are still parsed, to see the peer's answer to our close.
                            OnViolation(e);
                        }

                        position = afterHeader;
                        _inFrame = true;
                        _frameFin = header.Fin;
                        _maskKey = header.MaskKey;
                        _payloadLeft = header.PayloadLength;
                        _payloadOffset = 0;
                        _unmaskedAhead = 0;
                    }

                    var rest = buffer.Slice(position);
                    var available = Math.Min(_payloadLeft, rest.Length);
                    var data = rest.Slice(0, available);
                    if (_unmaskedAhead < available)
                    {
                        Unmask(data.Slice(_unmaskedAhead), _maskKey, _payloadOffset + _unmaskedAhead);
                        _unmaskedAhead = available;
                    }

                    var frameDone = available == _payloadLeft;
                    var taken = await FeedAsync(data, frameDone).ConfigureAwait(false);
                    position = data.GetPosition(taken);
                    _payloadLeft -= taken;
                    _payloadOffset += taken;
                    _unmaskedAhead -= taken;
                    if (_payloadLeft > 0)
                    {
                        break; // the rest of this frame has not arrived (or a partial protocol frame waits in the buffer)
                    }

                    _inFrame = false;
                    if (_frameFin && _carryLength > 0)
                    {
                        ReleaseCarry();
                        if (!IsClosing && !_stopFeeding)
                        {
                            RequestClose(CloseRequest.Fatal(ErrorCode.MalformedFrame, "A frame must not span two WebSocket messages (the message ended inside a frame)."));
                        }

                        _stopFeeding = true;
                    }
                }
            }
            catch (WebSocketProtocolException e)
            {
                // A bad header: the framing cannot be trusted any more: answer with the close code, then read and discard until the peer goes.
                _input.AdvanceTo(buffer.End);
                OnViolation(e);
                return await DiscardUntilEndAsync(result.IsCompleted).ConfigureAwait(false);
            }

            _input.AdvanceTo(position, buffer.End);
            if (end is { } request)
            {
                return request;
            }

            if (_pongLength >= 0)
            {
                await SendPongAsync().ConfigureAwait(false);
            }

            if (DrainExhausted)
            {
                return CloseRequest.ClientClosed; // a closing peer that keeps flooding: stop reading it
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                // End of stream without a close frame: an abnormal closure (1006), nothing more can be said.
                return CloseRequest.Reset;
            }
        }
    }

    private protected override async ValueTask WriteAsync(List<FrameBuffer> frames, int totalBytes)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            // One binary message per batch: header and frames straight into the transport's pipe, one flush.
            WebSocketFrameHeader.Write(_output, fin: true, WebSocketOpcode.Binary, totalBytes);
            foreach (var frame in frames)
            {
                _output.Write(frame.Span);
            }

            await FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private protected override async ValueTask CloseTransportAsync(CloseRequest request)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_closeSent)
            {
                return;
            }

            _closeSent = true;
            var span = _output.GetSpan(WebSocketFrameHeader.MaxServerSize + WebSocketFrameHeader.MaxControlPayload);
            var payload = span[2..];
            int length;
            if (_peerClosed)
            {
                // The peer began the close: echo its code and reason (none when it sent none).
                length = _peerCloseCode == WebSocketCloseCodes.NoStatus ? 0 : WebSocketClosePayload.Write(payload, _peerCloseCode, _peerCloseReason);
            }
            else
            {
                length = WebSocketClosePayload.Write(payload, request.CloseCode, request.Reason);
            }

            var header = WebSocketFrameHeader.Write(span, fin: true, WebSocketOpcode.Close, length);
            _output.Advance(header + length);
            await FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private protected override void Abort() => _context.Abort();

    private protected override void OnClosed()
    {
        // The last step of RunAsync: both loops have ended, so nothing waits on the write lock any more.
        ReleaseCarry();
        _writeLock.Dispose();
    }

    /// <summary>Unmasks <paramref name="data"/> where it lies: the pipe's buffers are the reader's until advanced.</summary>
    private static void Unmask(in ReadOnlySequence<byte> data, uint maskKey, long payloadOffset)
    {
        foreach (var segment in data)
        {
            WebSocketMask.Apply(MemoryMarshal.AsMemory(segment).Span, maskKey, payloadOffset);
            payloadOffset += segment.Length;
        }
    }

    private static bool TryReadHeader(in ReadOnlySequence<byte> buffer, out WebSocketFrameHeader header, out SequencePosition after)
    {
        var reader = new SequenceReader<byte>(buffer);
        var read = WebSocketFrameHeader.TryRead(ref reader, out header);
        after = reader.Position;
        return read;
    }

    private async ValueTask FlushAsync()
    {
        var flush = await _output.FlushAsync().ConfigureAwait(false);
        if (flush.IsCompleted || flush.IsCanceled)
        {
            throw new ConnectionAbortedException("The connection was closed while writing.");
        }
    }

    /// <summary>
    /// Hands <paramref name="data"/> (unmasked payload of the current data frame) to the protocol's frame reader.
    /// </summary>
    /// <returns>How many bytes were taken from the transport; the rest (a partial protocol frame of an unfinished WebSocket frame) stays in it.</returns>
    private async ValueTask<long> FeedAsync(ReadOnlySequence<byte> data, bool frameDone)
    {
        long taken = 0;
        while (taken < data.Length)
        {
            if (_stopFeeding || IsClosing)
            {
                // Closing: payload is discarded (bounded by CloseDrainMaxBytes), frames are still parsed to find the peer's close.
                _stopFeeding = true;
                ReleaseCarry();
                Discard(data.Length - taken);
                return data.Length;
            }

            if (_carryLength > 0)
            {
                // Complete the split protocol frame first, copying no more than it needs.
                var take = (int)Math.Min(CarryNeed(), data.Length - taken);
                EnsureCarry(_carryLength + take);
                data.Slice(taken, take).CopyTo(_carry.AsSpan(_carryLength));
                _carryLength += take;
                taken += take;
                if (!await ProcessCarryAsync().ConfigureAwait(false))
                {
                    _stopFeeding = true;
                }

                continue;
            }

            var rest = data.Slice(taken);
            var ok = await ProcessInputAsync(_payloadReader, new ReadResult(rest, isCanceled: false, isCompleted: false)).ConfigureAwait(false);
            if (!ok)
            {
                _stopFeeding = true;
                return data.Length; // discarded by ProcessInputAsync
            }

            var consumed = rest.Slice(rest.Start, _payloadReader.Consumed).Length;
            taken += consumed;
            var leftover = rest.Length - consumed;
            if (leftover == 0 || !frameDone)
            {
                return taken; // a partial protocol frame of an unfinished WebSocket frame stays in the transport, contiguous
            }

            // The WebSocket frame ends inside a protocol frame: its next bytes come after another WebSocket header.
            EnsureCarry((int)leftover);
            rest.Slice(consumed).CopyTo(_carry);
            _carryLength = (int)leftover;
            taken += leftover;
        }

        return taken;
    }

    private int CarryNeed()
    {
        if (_carryLength < ProtocolLimits.HeaderSize)
        {
            return ProtocolLimits.HeaderSize - _carryLength;
        }

        // The frame reader has seen this header (it refuses a length over the limit before anything is buffered).
        var total = ProtocolLimits.HeaderSize + (long)BinaryPrimitives.ReadUInt32BigEndian(_carry);
        return (int)Math.Clamp(total - _carryLength, 1, _maxCarry);
    }

    private void EnsureCarry(int size)
    {
        if (_carry is not null && _carry.Length >= size)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(size, 256));
        if (_carry is not null)
        {
            _carry.AsSpan(0, _carryLength).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_carry);
        }

        _carry = bigger;
    }

    private void ReleaseCarry()
    {
        if (_carry is not null)
        {
            ArrayPool<byte>.Shared.Return(_carry);
            _carry = null;
        }

        _carryLength = 0;
    }

    private async ValueTask<bool> ProcessCarryAsync()
    {
        var carried = new ReadOnlySequence<byte>(_carry!, 0, _carryLength);
        var ok = await ProcessInputAsync(_payloadReader, new ReadResult(carried, isCanceled: false, isCompleted: false)).ConfigureAwait(false);
        if (!ok)
        {
            ReleaseCarry();
            return false;
        }

        var consumed = (int)carried.Slice(carried.Start, _payloadReader.Consumed).Length;
        if (consumed == _carryLength)
        {
            ReleaseCarry(); // back to zero-copy
        }
        else if (consumed > 0)
        {
            _carry.AsSpan(consumed, _carryLength - consumed).CopyTo(_carry);
            _carryLength -= consumed;
        }

        return true;
    }

    /// <summary>Handles a whole control frame; returns why reading ends (a close), or null.</summary>
    private CloseRequest? OnControlFrame(WebSocketFrameHeader header, in ReadOnlySequence<byte> payload)
    {
        _control ??= new byte[WebSocketFrameHeader.MaxControlPayload];
        var length = (int)payload.Length;
        payload.CopyTo(_control);
        var bytes = _control.AsSpan(0, length);
        WebSocketMask.Apply(bytes, header.MaskKey, 0);
        switch (header.Opcode)
        {
            case WebSocketOpcode.Ping:
                // Only the latest ping of a read is answered (RFC 6455 §5.5.3 allows it); a flood costs one pong per read.
                _pong ??= new byte[WebSocketFrameHeader.MaxControlPayload];
                bytes.CopyTo(_pong);
                _pongLength = length;
                return null;
            case WebSocketOpcode.Close:
                ushort code;
                ReadOnlySpan<byte> reason;
                try
                {
                    code = WebSocketClosePayload.Parse(bytes, out reason);
                }
                catch (WebSocketProtocolException e)
                {
                    OnViolation(e); // answered with 1002/1007 instead of an echo
                    return CloseRequest.ClientClosed;
                }

                _peerClosed = true;
                _peerCloseCode = code;
                _peerCloseReason = reason.IsEmpty ? null : reason.ToArray();
                return CloseRequest.ClientClosed;
            default:
                return null; // an unsolicited pong is allowed and ignored
        }
    }

    private async ValueTask SendPongAsync()
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            var length = _pongLength;
            _pongLength = -1;
            if (_closeSent)
            {
                return; // nothing may follow our close frame
            }

            var span = _output.GetSpan(WebSocketFrameHeader.MaxServerSize + WebSocketFrameHeader.MaxControlPayload);
            var header = WebSocketFrameHeader.Write(span, fin: true, WebSocketOpcode.Pong, length);
            _pong.AsSpan(0, length).CopyTo(span[header..]);
            _output.Advance(header + length);
            await FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void OnViolation(WebSocketProtocolException e)
    {
        ReleaseCarry();
        _stopFeeding = true;
        if (IsClosing)
        {
            return;
        }

        var name = e.Error == WebSocketProtocolError.MessageTooBig ? "websocket_message_too_big" : "websocket_protocol_error";
        GatewayLog.ProtocolError(Services.Logger, ConnectionId, Services.NodeId, name, e.Message);
        RequestClose(e.Error == WebSocketProtocolError.TextNotSupported
            ? CloseRequest.Fatal(ErrorCode.TextNotSupported, e.Message) // as on the ASP.NET path: Error frame + 1003
            : new CloseRequest(ErrorCode.None, e.Message, 0, e.CloseCode, name));
    }

    /// <summary>After a framing violation: discard input until the peer closes, the drain bound is hit or the connection is cut.</summary>
    private async Task<CloseRequest> DiscardUntilEndAsync(bool completed)
    {
        while (!completed && !DrainExhausted)
        {
            var result = await _input.ReadAsync().ConfigureAwait(false);
            Discard(result.Buffer.Length);
            _input.AdvanceTo(result.Buffer.End);
            completed = result.IsCompleted || result.IsCanceled;
        }

        return CloseRequest.ClientClosed;
    }

    /// <summary>
    /// The reader <see cref="ClientConnection.ProcessInputAsync"/> advances: it only records how far the frame reader
    /// consumed a payload slice (the transport reader is advanced by the receive loop, once per read).
    /// </summary>
    private sealed class PayloadReader : PipeReader
    {
        public SequencePosition Consumed { get; private set; }

        public override void AdvanceTo(SequencePosition consumed) => Consumed = consumed;

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => Consumed = consumed;

        public override void CancelPendingRead() => throw new NotSupportedException();

        public override void Complete(Exception? exception = null)
        {
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public override bool TryRead(out ReadResult result) => throw new NotSupportedException();
    }
}
