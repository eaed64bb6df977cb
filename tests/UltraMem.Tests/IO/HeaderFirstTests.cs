using System.Buffers.Binary;
using System.Text;
using UltraMem.IO;
using UltraMem.Model;
using UltraMem.Training;
using static TorchSharp.torch;

namespace UltraMem.Tests.IO;

/// <summary>Hostile checkpoint files are refused from their header, before anything is allocated.</summary>
public class HeaderFirstTests
{
    static string WriteRaw(string header)
    {
        string path = Path.Combine(TestData.TempDir(), "x.safetensors");
        var json = Encoding.UTF8.GetBytes(header);
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)json.Length);
        File.WriteAllBytes(path, prefix.Concat(json).ToArray());
        return path;
    }

    [Fact]
    public void AnEmptyTensorWithAstronomicalDimensionsIsRefused()
    {
        string path = WriteRaw("""{"t":{"dtype":"F32","shape":[0,2199023255552],"data_offsets":[0,0]}}""");
        var e = Assert.Throws<UltraMemException>(() => SafeTensors.ReadHeader(path));
        Assert.Contains("exceeds", e.Message);
        SafeTensors.ReadHeader(WriteRaw("""{"t":{"dtype":"F32","shape":[0,1099511627776],"data_offsets":[0,0]}}""")); // 2^40 is fine
    }

    [Fact]
    public void AnExtraTensorInAModelFileIsRefusedByName()
    {
        var config = new ModelConfig
        {
            VocabSize = 50,
            DModel = 16,
            NLayers = 1,
            NHeads = 2,
            MaxSeqLen = 8,
        };
        using var model = new TransformerLM(config);
        string path = Path.Combine(TestData.TempDir(), "model.safetensors");
        var tensors = model.state_dict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value)).ToList();
        tensors.Add(new("zzz.extra", zeros(256, 256)));
        SafeTensors.Save(path, tensors);
        var e = Assert.Throws<UltraMemException>(() => Checkpoint.LoadWeights(model, path));
        Assert.Contains("zzz.extra", e.Message);
    }
}
