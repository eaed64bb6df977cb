using TorchSharp;
using UltraMem.Training;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace UltraMem.Tests.Training;

public class OptimizerTests
{
    /// <summary>Oracle: TorchSharp's own AdamW (= torch.optim.AdamW) on identical parameters and gradients.</summary>
    [Fact]
    public void MatchesTorchAdamWStepForStep()
    {
        torch.manual_seed(5);
        var init = randn(7, 5);
        var ours = new Parameter(init.clone());
        var theirs = new Parameter(init.clone());
        var group = new ParameterGroup
        {
            Name = "decay",
            Parameters = new[] { ("w", ours) },
            WeightDecay = 0.1,
        };
        using var opt = new UltraMem.Training.AdamW(new[] { group }, 0.9, 0.95, 1e-8);
        var reference = torch.optim.AdamW(new[] { theirs }, lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1);
        for (int step = 0; step < 6; step++)
        {
            var target = randn(7, 5);
            foreach (var p in new[] { ours, theirs })
            {
                var loss = (p * p * target).sum() + p.pow(3).mean();
                loss.backward();
            }
            opt.Step(0.01);
            reference.step();
            opt.ZeroGrad();
            reference.zero_grad();
        }
        float diff = (ours - theirs).abs().max().item<float>();
        Assert.True(diff < 1e-6f, $"max diff {diff}");
        Assert.True((ours - init).abs().max().item<float>() > 1e-2f, "parameters did not move");
    }

    [Fact]
    public void GroupMultipliersScaleTheStepAndStateRoundTrips()
    {
        var a = new Parameter(ones(3));
        var b = new Parameter(ones(3));
        var groups = new[]
        {
            new ParameterGroup
            {
                Name = "values",
                Parameters = new[] { ("a", a) },
                LearningRateMultiplier = ValueLearningRate.LinearDecay(4, 10),
            },
            new ParameterGroup { Name = "rest", Parameters = new[] { ("b", b) } },
        };
        using var opt = new UltraMem.Training.AdamW(groups);
        a.grad = ones(3);
        b.grad = ones(3);
        opt.Step(0.1);
        // the first Adam step moves every coordinate by lr (m̂/sqrt(v̂) = 1): κ = 4 makes it 4× larger
        Assert.Equal(1 - 0.4, a[0].item<float>(), 5);
        Assert.Equal(1 - 0.1, b[0].item<float>(), 5);
        Assert.Equal(0.4, groups[0].CurrentLearningRate, 10);
        var saved = opt.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using var restored = new UltraMem.Training.AdamW(groups);
        restored.LoadState(saved, opt.StepCount, "test");
        Assert.Equal(1, restored.StepCount);
        Assert.Equal(
            new[] { "exp_avg.a", "exp_avg.b", "exp_avg_sq.a", "exp_avg_sq.b" },
            saved.Keys.OrderBy(k => k, StringComparer.Ordinal)
        );
        var bad = new Dictionary<string, Tensor>(saved) { ["exp_avg.zz"] = zeros(3) };
        Assert.Throws<UltraMemException>(() =>
        {
            restored.LoadState(bad, 1, "test");
        });
    }

    [Fact]
    public void ScheduleWarmsUpThenDecaysToTheFloor()
    {
        var s = new LearningRateSchedule(1.0, 10, 110, 0.1);
        Assert.Equal(0.1, s.At(0), 10);
        Assert.Equal(1.0, s.At(9), 10);
        Assert.Equal(0.55, s.At(60), 10);
        Assert.Equal(0.1, s.At(110), 10);
        Assert.True(s.At(30) > s.At(31));
        var mult = ValueLearningRate.LinearDecay(4, 100);
        Assert.Equal(4.0, mult(0), 10);
        Assert.Equal(2.5, mult(50), 10);
        Assert.Equal(1.0, mult(100), 10);
        Assert.Equal(1.0, mult(500), 10);
    }
}
