using System.Runtime.InteropServices;

namespace UltraMem.Platform;

/// <summary>
/// Native allocator settings that make large tensors fast on these machines (docs/platform.md).
/// <para>
/// libtorch reads <c>THP_MEM_ALLOC_ENABLE</c> from the <b>native</b> environment; .NET's
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> is not visible to native
/// <c>getenv</c>, so it is set through libc <c>setenv</c> before the first torch call. The glibc
/// malloc thresholds (<c>GLIBC_TUNABLES</c>) are read only at process start, so where the launcher
/// did not set them the same thresholds are applied with <c>mallopt</c>.
/// </para>
/// </summary>
public static class NativeEnvironment
{
    public const long TrimThreshold = 17_179_869_184; // 16 GiB: never give freed heap back to the kernel
    public const int MmapThreshold = 33_554_432; // 32 MiB: temporaries below this come from the heap
    public const string TunablesValue = "glibc.malloc.trim_threshold=17179869184:glibc.malloc.mmap_threshold=33554432";

    const int M_TRIM_THRESHOLD = -1,
        M_MMAP_THRESHOLD = -3;
    static int _applied;

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    static extern IntPtr getenv(string name);

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int mallopt(int param, int value);

    /// <summary>True when the process was started with the tunables (launcher, .ci/run, runsettings).</summary>
    public static bool TunablesFromLauncher { get; private set; }

    /// <summary>Whether <c>mallopt</c> was used because the tunables were missing at process start.</summary>
    public static bool MalloptApplied { get; private set; }

    /// <summary>Idempotent; call before the first TorchSharp call. No-op off Linux.</summary>
    public static void Apply()
    {
        if (Interlocked.Exchange(ref _applied, 1) == 1)
            return;
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            setenv("THP_MEM_ALLOC_ENABLE", "1", 0);
            IntPtr t = getenv("GLIBC_TUNABLES");
            string? tunables = t == IntPtr.Zero ? null : Marshal.PtrToStringAnsi(t);
            TunablesFromLauncher = tunables != null && tunables.Contains("mmap_threshold");
            if (!TunablesFromLauncher)
            {
                // mallopt takes an int: 2^31-1 bytes of trim threshold is enough to keep freed heap mapped.
                mallopt(M_TRIM_THRESHOLD, int.MaxValue);
                mallopt(M_MMAP_THRESHOLD, MmapThreshold);
                MalloptApplied = true;
            }
        }
        catch (DllNotFoundException) { } // not glibc (e.g. musl): nothing to tune
        catch (EntryPointNotFoundException) { }
    }

    /// <summary>Reads a variable from the native environment (what libtorch sees).</summary>
    public static string? GetNative(string name)
    {
        if (!OperatingSystem.IsLinux())
            return Environment.GetEnvironmentVariable(name);
        IntPtr p = getenv(name);
        return p == IntPtr.Zero ? null : Marshal.PtrToStringAnsi(p);
    }
}
