using UltraMem.Platform;

namespace UltraMem.Tests.Platform;

public class MachineLoadTests
{
    [Fact]
    public void BusyMachinesGetAWarningThatSaysWhatSuffers()
    {
        Assert.Null(MachineLoad.BusyWarning(null));
        Assert.Null(MachineLoad.BusyWarning(0.1));
        var w = MachineLoad.BusyWarning(0.5, "training will be much slower than usual");
        Assert.NotNull(w);
        Assert.Contains("50%", w!.Replace(" %", "%"));
        Assert.Contains("training will be much slower than usual", w);
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
            Assert.Contains("OMP_WAIT_POLICY=PASSIVE", w); // the measured remedy, when it is not in use already
        Assert.Contains("timings will be unreliable", MachineLoad.BusyWarning(0.9));
        Assert.InRange(MachineLoad.OtherCpuUse(TimeSpan.FromMilliseconds(50)) ?? 0, 0, 1);
    }
}
