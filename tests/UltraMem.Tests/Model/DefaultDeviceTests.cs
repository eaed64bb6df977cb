using TorchSharp;
using UltraMem.Architectures;
using UltraMem.Inference;
using UltraMem.Model;
using UltraMem.Training;
using static TorchSharp.torch;

namespace UltraMem.Tests.Model;

/// <summary>Tests that change TorchSharp's process-wide default device: never run next to other tests.</summary>
[CollectionDefinition(nameof(DefaultDeviceCollection), DisableParallelization = true)]
public class DefaultDeviceCollection { }

/// <summary>
/// Device-agnostic execution, checked on a CPU-only build: with TorchSharp's default device switched to <c>meta</c> (tensors
/// without data), a whole training run — data batches, forward, backward, AdamW, TDQKR's SVD refresh, evaluation,
/// diagnostics, checkpoints — and sampling from the result run on the CPU as before. A tensor created anywhere without the
/// model's device would land on <c>meta</c> and fail the first op that mixes it with CPU tensors (or reads its data), so every
/// tensor the library creates names its device, as it must to run on a GPU.
/// </summary>
[Collection(nameof(DefaultDeviceCollection))]
public class DefaultDeviceTests
{
    public static TheoryData<string> Archs =>
        new(
            "dense",
            "moe",
            "pkm",
            "memory_plus",
            "peer",
            "ultramem",
            "ultramemv2",
            "ultramemv2+ring",
            "ultramem+both_ends",
            "ultramemv2+exact",
            "ultramem+query_conv"
        );

    [Theory]
    [MemberData(nameof(Archs))]
    public void TrainingEvaluationAndSamplingCreateNoTensorOnTheDefaultDevice(string arch)
    {
        string root = TestData.TempDir();
        var baseModel = new ModelConfig
        {
            DModel = 32,
            NLayers = 4,
            NHeads = 2,
            MaxSeqLen = 16,
        };
        var request = new TrainRequest
        {
            RunDir = Path.Combine(root, "run"),
            Model = Families.Template(baseModel, arch),
            Train = new TrainConfig
            {
                Corpus = TestData.CorpusFolder(root, 8),
                TokenizerVocabSize = 300,
                ValidationFraction = 0.25,
                BatchSize = 2,
                SeqLen = 16,
                MaxSteps = 2,
                EvalInterval = 2,
                EvalBatches = 1,
                CheckpointInterval = 2,
                Threads = 1,
            },
            CacheDir = Path.Combine(root, "cache"),
            ShowProgress = false,
            Log = _ => { },
        };
        Assert.Equal(DeviceType.CPU, get_default_device().type);
        set_default_device(new Device("meta"));
        try
        {
            var result = Trainer.Run(request);
            Assert.True(double.IsFinite(result.FinalValidationLoss ?? double.NaN));
            var ckpt = Checkpoint.Open(request.RunDir);
            using var model = ckpt.LoadModel();
            var produced = new List<int>();
            UltraMem.Inference.Generator.Generate(
                model,
                new[] { 1, 2, 3 },
                5,
                new SamplingOptions(0.8, 10, 0.9, 1).Validate(),
                -1,
                produced.Add
            );
            Assert.Equal(5, produced.Count);
            using (no_grad())
            using (var cache = new DecodeCache(model, 2))
            {
                // a prefill, then a chunk of two positions at once (the masked-attention path of a cache that is not empty)
                model.Forward(tensor(new long[] { 1, 2, 3, 4, 5, 6 }, device: CPU).view(2, 3), cache, lastPositionOnly: false);
                using var more = model.Forward(tensor(new long[] { 7, 8, 9, 10 }, device: CPU).view(2, 2), cache, lastPositionOnly: false);
                Assert.Equal(new long[] { 2, 2, model.Config.VocabSize }, more.shape);
            }
            Assert.Equal(DeviceType.CPU, model.parameters().First().device_type);
        }
        finally
        {
            set_default_device(CPU);
        }
    }

    [Fact]
    public void TheSwitchIsDetected()
    {
        // the negative control: a tensor created without a device while the default is meta cannot meet a CPU tensor
        set_default_device(new Device("meta"));
        try
        {
            using var cpu = ones(3, device: CPU);
            using var behindTheBack = ones(3);
            Assert.Equal(DeviceType.META, behindTheBack.device_type);
            Assert.ThrowsAny<Exception>(() => (cpu + behindTheBack).sum().item<float>());
        }
        finally
        {
            set_default_device(CPU);
        }
    }
}
