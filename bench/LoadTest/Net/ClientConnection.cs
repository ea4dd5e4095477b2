using System.Net;
using System.Net.Sockets;

namespace LoadTest.Net;

/// <summary>
/// One client socket with a single receive loop over a private buffer. Subclasses parse the bytes
/// (WebSocket frames, protocol frames). Counters are written only by the receive loop.
/// </summary>
public abstract class ClientConnection : IAsyncDisposable
{
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private byte[] _buffer;
    private int _start;
    private int _end;
    private volatile bool _paused;
    private TaskCompletionSource _resume = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;

    protected ClientConnection(int bufferSize) => _buffer = new byte[bufferSize];

    public Socket Socket { get; private set; } = null!;
    public int Index { get; init; }
    public long Reads;
    public long BytesIn;
    public long TransportMessages;
    public long Deliveries;
    public volatile bool Closed;
    public string? CloseReason { get; protected set; }
    public Task Completion => _loop ?? Task.CompletedTask;

    /// <summary>Connects from <paramref name="local"/> (an address of 127.0.0.0/8) to <paramref name="remote"/>.</summary>
    protected async Task OpenSocketAsync(IPEndPoint remote, IPAddress? local, CancellationToken ct)
    {
        var s = new Socket(remote.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (local != null)
            {
                // IP_BIND_ADDRESS_NO_PORT: choose the port at connect time so each source address offers the whole range per destination.
                s.SetRawSocketOption(0, 24, BitConverter.GetBytes(1));
                s.Bind(new IPEndPoint(local, 0));
            }

            await s.ConnectAsync(remote, ct).ConfigureAwait(false);
        }
        catch
        {
            s.Dispose();
            throw;
        }

        Socket = s;
    }

    /// <summary>Reads until <paramref name="terminator"/> appears (handshakes); returns the bytes before it and keeps the rest buffered.</summary>
    protected async Task<byte[]> ReadUntilAsync(byte[] terminator, CancellationToken ct)
    {
        while (true)
        {
            var idx = _buffer.AsSpan(_start, _end - _start).IndexOf(terminator);
            if (idx >= 0)
            {
                var head = _buffer.AsSpan(_start, idx).ToArray();
                _start += idx + terminator.Length;
                return head;
            }

            EnsureSpace();
            var n = await Socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("Connection closed during handshake.");
            }

            _end += n;
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes (raw-TCP hello).</summary>
    protected async Task<byte[]> ReadExactAsync(int count, CancellationToken ct)
    {
        while (_end - _start < count)
        {
            EnsureSpace();
            var n = await Socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("Connection closed during handshake.");
            }

            _end += n;
        }

        var result = _buffer.AsSpan(_start, count).ToArray();
        _start += count;
        return result;
    }

    /// <summary>Starts the receive loop (call once, after the handshake).</summary>
    public void StartReceiving() => _loop = Task.Run(ReceiveLoopAsync);

    /// <summary>Stops reading from the socket (slow-consumer simulation); the kernel buffers fill up.</summary>
    public void Pause() => _paused = true;

    /// <summary>Resumes reading.</summary>
    public void Resume()
    {
        _paused = false;
        _resume.TrySetResult();
    }

    private async Task ReceiveLoopAsync()
    {
        try
        {
            if (_end > _start)
            {
                Consume();
            }

            while (true)
            {
                if (_paused)
                {
                    await _resume.Task.ConfigureAwait(false);
                    _resume = new(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                EnsureSpace();
                var n = await Socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None).ConfigureAwait(false);
                if (n == 0)
                {
                    CloseReason ??= "eof";
                    break;
                }

                Reads++;
                BytesIn += n;
                _end += n;
                Consume();
                await AfterBatchAsync().ConfigureAwait(false);
                if (Closed)
                {
                    break;
                }
            }
        }
        catch (SocketException e)
        {
            CloseReason ??= "socket:" + e.SocketErrorCode;
        }
        catch (ObjectDisposedException)
        {
            CloseReason ??= "disposed";
        }
        catch (Exception e)
        {
            CloseReason ??= "error:" + e.GetType().Name + ":" + e.Message;
        }

        Closed = true;
        OnClosed();
    }

    private void Consume()
    {
        var consumed = OnBytes(_buffer.AsSpan(_start, _end - _start));
        _start += consumed;
        if (_start == _end)
        {
            _start = _end = 0;
        }
    }

    private void EnsureSpace()
    {
        if (_end < _buffer.Length)
        {
            return;
        }

        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
            return;
        }

        Array.Resize(ref _buffer, _buffer.Length * 2);
    }

    /// <summary>Parses buffered bytes; returns how many were consumed (whole units only).</summary>
    protected abstract int OnBytes(ReadOnlySpan<byte> data);

    /// <summary>Runs after each read's bytes were parsed (e.g. to send coalesced acks).</summary>
    protected virtual ValueTask AfterBatchAsync() => ValueTask.CompletedTask;

    protected virtual void OnClosed()
    {
    }

    /// <summary>Sends all bytes; serialized with other senders of this connection.</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data)
    {
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            while (!data.IsEmpty)
            {
                var n = await Socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
                data = data[n..];
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Closed = true;
        try
        {
            Socket?.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        Socket?.Dispose();
        _resume.TrySetResult();
        if (_loop != null)
        {
            await _loop.ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }
}
