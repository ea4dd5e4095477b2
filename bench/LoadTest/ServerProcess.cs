using System.Globalization;

namespace LoadTest;

/// <summary>Reads a server process's RSS and CPU time from /proc (Linux).</summary>
public static class ServerProcess
{
    private static readonly long ClockTicks = 100; // USER_HZ on Linux

    public static long RssKiB(int pid) => StatusField(pid, "VmRSS:");

    public static long HwmKiB(int pid) => StatusField(pid, "VmHWM:");

    /// <summary>Voluntary + involuntary context switches summed over all threads.</summary>
    public static long ContextSwitches(int pid)
    {
        long sum = 0;
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                foreach (var line in File.ReadLines(task + "/status"))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        sum += long.Parse(line[(line.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture);
                    }
                }
            }
        }
        catch (IOException)
        {
        }

        return sum;
    }

    public static int Threads(int pid) => (int)StatusField(pid, "Threads:");

    /// <summary>utime + stime in seconds.</summary>
    public static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / (double)ClockTicks;
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }

    private static long StatusField(int pid, string name)
    {
        if (pid <= 0)
        {
            return 0;
        }

        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(name, StringComparison.Ordinal))
                {
                    return long.Parse(line[name.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    /// <summary>Finds the process listening on a TCP port (via /proc/net/tcp* inodes and /proc/*/fd).</summary>
    public static int FindListener(int port)
    {
        var inodes = new HashSet<string>();
        foreach (var file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(file))
            {
                continue;
            }

            foreach (var line in File.ReadLines(file).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length > 9 && f[3] == "0A" && int.Parse(f[1][(f[1].LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port)
                {
                    inodes.Add("socket:[" + f[9] + "]");
                }
            }
        }

        if (inodes.Count == 0)
        {
            return 0;
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries(dir + "/fd"))
                {
                    var link = new FileInfo(fd).LinkTarget;
                    if (link != null && inodes.Contains(link))
                    {
                        return pid;
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        return 0;
    }
}
