using System.Globalization;

namespace UltraMem.Platform;

/// <summary>The memory this machine can give a new allocation now.</summary>
public static class MachineMemory
{
    /// <summary>MemAvailable of /proc/meminfo in bytes; +∞ where it cannot be read (then nothing is refused for size).</summary>
    public static double AvailableBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return double.PositiveInfinity;
    }
}
