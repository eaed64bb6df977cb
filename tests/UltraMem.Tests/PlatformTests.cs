using TorchSharp;
using UltraMem.Platform;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace UltraMem.Tests;

public class PlatformTests
{
    [Fact]
    public void TorchLoadsAndTheAllocatorSettingIsVisibleToNativeCode()
    {
        NativeEnvironment.Apply();
        Assert.Equal("1", NativeEnvironment.GetNative("THP_MEM_ALLOC_ENABLE"));
        using var t = torch.arange(10, dtype: torch.float32);
        Assert.Equal(45f, t.sum().item<float>());
    }
}
