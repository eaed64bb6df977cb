using System.Runtime.CompilerServices;

namespace UltraMem.Platform;

static class NativeEnvironmentInitializer
{
    /// <summary>Runs when the UltraMem assembly loads, which is before any model code touches torch.</summary>
    [ModuleInitializer]
    internal static void Init() => NativeEnvironment.Apply();
}
