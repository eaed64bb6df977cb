using TorchSharp;
using static TorchSharp.torch;

namespace UltraMem.Platform;

/// <summary>
/// The device a command runs on (<c>--device cpu|cuda|cuda:N</c>). Models are built and initialised on the CPU (so a seed
/// gives the same weights on every device) and then moved; checkpoints are written and read through the CPU. This build
/// references TorchSharp-cpu: CUDA needs TorchSharp's CUDA package (README, "Devices").
/// </summary>
public static class Devices
{
    /// <summary>Parses and checks a device name; a one-line error names a device that is malformed or not available.</summary>
    public static Device Parse(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t == "cpu")
            return CPU;
        var m = System.Text.RegularExpressions.Regex.Match(t, @"^cuda(:(?<index>\d{1,3}))?$");
        if (!m.Success)
            throw new UltraMemException($"--device: '{text}' is not a device (cpu, cuda or cuda:N)");
        int index = m.Groups["index"].Success ? int.Parse(m.Groups["index"].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        if (!cuda.is_available())
            throw new UltraMemException(
                $"device {t} is not available: this build of UltraMem.NET uses TorchSharp-cpu, or no CUDA device is visible "
                    + "(README, \"Devices\", says how to build with TorchSharp's CUDA package)"
            );
        int count = cuda.device_count();
        if (index >= count)
            throw new UltraMemException(
                $"device {t} is not available: {count} CUDA device{(count == 1 ? "" : "s")} visible (cuda:0..cuda:{count - 1})"
            );
        return new Device(DeviceType.CUDA, index);
    }
}
