using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace UltraMem.Platform;

/// <summary>Direct access to a tensor's memory, for the C# kernels that read it in place (one pass, no temporaries).</summary>
public static unsafe class TensorMemory
{
    [DllImport("LibTorchSharp")]
    static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>Whether a kernel may read <paramref name="t"/> as a plain float32 array: float32, on the CPU, contiguous.</summary>
    public static bool IsFloatArray(Tensor t) =>
        t.dtype == ScalarType.Float32 && t.device_type == TorchSharp.DeviceType.CPU && t.is_contiguous();

    /// <summary>The first element of <paramref name="t"/> (callers check <see cref="IsFloatArray"/> and keep the tensor alive).</summary>
    public static float* Floats(Tensor t) => (float*)THSTensor_data(t.Handle);
}
