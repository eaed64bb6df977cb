namespace UltraMem.Benchmarks;

/// <summary>Resident-set figures of this process from /proc (Linux).</summary>
public static class ProcessMemory
{
    public static long Rss() => Read("VmRSS:");

    public static long Peak() => Read("VmHWM:");

    /// <summary>Resets the peak (VmHWM) to the current RSS: write "5" to /proc/self/clear_refs.</summary>
    public static void ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    static long Read(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(key))
                    return long.Parse(line[key.Length..].Trim().Split(' ')[0]) * 1024;
        }
        catch (IOException) { }
        return 0;
    }
}
