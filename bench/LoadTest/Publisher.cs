using System.Diagnostics;
using Gateway.Protocol.Frames;
using LoadTest.Targets;

namespace LoadTest;

/// <summary>
/// Drives one publisher connection on a dedicated thread. Open loop (rate &gt; 0): message k is scheduled at
/// start + k/rate and carries that scheduled time, so a late send (server push-back, full socket) shows up as
/// latency instead of being hidden (no coordinated omission); every message already due is sent in one batch.
/// Closed loop (rate 0): at most <c>window</c> publishes in flight, released when the publisher's own copy
/// comes back (it subscribes to what it publishes).
/// </summary>
public sealed class Publisher
{
    private readonly BenchConnection _conn;
    private readonly SemaphoreSlim _permits;
    private readonly byte _id;
    private readonly int _window;

    public Publisher(BenchConnection conn, byte id, int window, CountingHandler echo)
    {
        _window = window;
        _conn = conn;
        _id = id;
        _permits = new SemaphoreSlim(0, int.MaxValue);
        _permits.Release(Math.Max(1, window));
        echo.OnEach = () => _permits.Release();
        if (conn is ArchMeshConnection a)
        {
            a.PublishRejected = () => _permits.Release(); // a refused publish will not come back
        }
    }

    public required Func<long, (Dest Dest, Priority Priority)> Plan { get; init; }
    public required Func<Dest, int> Recipients { get; init; }
    public Func<Dest, bool> Echoes { get; init; } = d => d.Kind != DestKind.User;
    public int PayloadSize { get; init; } = 64;

    public long Published;
    public long WindowPublished;
    public long Expected;
    public long Errors;
    public long Stalls;
    public double MaxLagMs;
    public string? LastError;

    public static byte IdOf(ReadOnlySpan<byte> payload) => payload.Length > 16 ? payload[16] : (byte)0;

    public Thread Start(double rate, long startTicks, long stopTicks, long windowStart, long windowEnd)
    {
        var t = new Thread(() =>
        {
            try
            {
                if (rate > 0)
                {
                    OpenLoop(rate, startTicks, stopTicks, windowStart, windowEnd);
                }
                else
                {
                    ClosedLoop(startTicks, stopTicks, windowStart, windowEnd);
                }
            }
            catch (Exception e)
            {
                Errors++;
                LastError = e.GetType().Name + ": " + e.Message;
            }
        })
        { IsBackground = true, Name = "publisher" + _id, Priority = ThreadPriority.AboveNormal };
        t.Start();
        return t;
    }

    private void Add(long seq, long sched, long windowStart, long windowEnd, Span<byte> payload)
    {
        BenchPayload.Write(payload, sched, seq);
        var (dest, prio) = Plan(seq);
        _conn.AddPublish(dest, prio, payload);
        if (sched >= windowStart && sched < windowEnd)
        {
            WindowPublished++;
            Expected += Recipients(dest);
        }
    }

    private Span<byte> NewPayload()
    {
        var p = new byte[Math.Max(17, PayloadSize)];
        p[16] = _id;
        for (var i = 17; i < p.Length; i++)
        {
            p[i] = (byte)('a' + (i % 26));
        }

        return p;
    }

    private void OpenLoop(double rate, long startTicks, long stopTicks, long windowStart, long windowEnd)
    {
        var interval = Stopwatch.Frequency / rate;
        var payload = NewPayload();
        long seq = 0;
        while (!_conn.Closed)
        {
            var now = Stopwatch.GetTimestamp();
            if (now >= stopTicks)
            {
                break;
            }

            var due = now < startTicks ? 0 : (long)((now - startTicks) / interval) + 1;
            var n = 0;
            while (seq < due && n < 512)
            {
                var sched = startTicks + (long)(seq * interval);
                MaxLagMs = Math.Max(MaxLagMs, (now - sched) * 1000.0 / Stopwatch.Frequency);
                Add(seq, sched, windowStart, windowEnd, payload);
                seq++;
                n++;
            }

            if (n > 0)
            {
                _conn.Flush();
                Published += n;
                continue;
            }

            var next = startTicks + (long)(seq * interval);
            var waitMs = (next - Stopwatch.GetTimestamp()) * 1000.0 / Stopwatch.Frequency;
            if (waitMs > 1.3)
            {
                Thread.Sleep((int)(waitMs - 1.1));
            }
            else if (waitMs > 0)
            {
                Thread.Yield();
            }
        }
    }

    private void ClosedLoop(long startTicks, long stopTicks, long windowStart, long windowEnd)
    {
        var payload = NewPayload();
        long seq = 0;
        while (Stopwatch.GetTimestamp() < startTicks)
        {
            Thread.Sleep(1);
        }

        while (!_conn.Closed)
        {
            if (Stopwatch.GetTimestamp() >= stopTicks)
            {
                break;
            }

            if (_window <= 0)
            {
                // No echo window: as fast as the server takes them (blocking writes = TCP push-back only).
                for (var k = 0; k < 64; k++)
                {
                    Add(seq++, Stopwatch.GetTimestamp(), windowStart, windowEnd, payload);
                }

                _conn.Flush();
                Published += 64;
                continue;
            }

            if (!_permits.Wait(1000))
            {
                Stalls++; // nothing came back for 1 s: send one anyway so a lost echo cannot stop the run
            }

            var n = 0;
            do
            {
                var now = Stopwatch.GetTimestamp();
                Add(seq, now, windowStart, windowEnd, payload);
                if (!Echoes(Plan(seq).Dest))
                {
                    _permits.Release(); // no echo will come for this one
                }

                seq++;
                n++;
            }
            while (n < 256 && _permits.Wait(0));

            _conn.Flush();
            Published += n;
        }
    }
}
