using System.Globalization;

namespace UltraMem.Platform;

/// <summary>
/// How busy the machine is with other work. On two cores, one more busy process makes libtorch's OpenMP threads wait for
/// each other at every op: training and decoding then run 10–100× slower, and timings say nothing.
/// </summary>
public static class MachineLoad
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// Share of all cores that other processes kept busy over <paramref name="sample"/> (from /proc/stat), measured while this
    /// process is idle; null where it cannot be read.
    /// </summary>
    public static double? OtherCpuUse(TimeSpan? sample = null)
    {
        static (long Busy, long Total)? Read()
        {
            try
            {
                var f = File.ReadLines("/proc/stat")
                    .First()
                    .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Skip(1)
                    .Select(x => long.Parse(x, Inv))
                    .ToArray();
                long idle = f[3] + (f.Length > 4 ? f[4] : 0);
                return (f.Sum() - idle, f.Sum());
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
            {
                return null;
            }
        }
        var a = Read();
        Thread.Sleep(sample ?? TimeSpan.FromSeconds(1));
        var b = Read();
        if (a is null || b is null || b.Value.Total == a.Value.Total)
            return null;
        return (b.Value.Busy - a.Value.Busy) / (double)(b.Value.Total - a.Value.Total);
    }

    /// <summary>
    /// A warning when other processes keep the cores busy: with more runnable threads than cores, libtorch's OpenMP workers
    /// spin at their barriers and a step can take 10–100× longer, so the timings say little. Null when the machine looks quiet.
    /// </summary>
    public static string? BusyWarning(double? otherUse, string consequence = "timings will be unreliable")
    {
        if (otherUse is not { } use || use < 0.25)
            return null;
        return $"warning: other processes kept {use:P0} of the {Environment.ProcessorCount} cores busy: {consequence} "
            + "(oversubscribed OpenMP threads can make steps 10-100x slower"
            + (
                Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null
                    ? "; OMP_WAIT_POLICY=PASSIVE trained 1.7-2.7x faster next to 1-2 busy processes, docs/platform.md)"
                    : ")"
            );
    }
}
