using TorchSharp;
using UltraMem.Model;
using static TorchSharp.torch;

namespace UltraMem.Tests.Model;

public class TransformerTests
{
    static ModelConfig Tiny(params SlotPlacement[] slots) => TestData.TinyModel(3, slots);

    public static IEnumerable<object[]> Placements() =>
        new[] { new object[] { "none" }, new object[] { "parallel" }, new object[] { "replace" }, new object[] { "skip" } };

    static ModelConfig ConfigFor(string placement) =>
        placement switch
        {
            "parallel" => Tiny(SlotPlacement.Parse("1", "swiglu")),
            "replace" => Tiny(SlotPlacement.Parse("0!", "swiglu")),
            "skip" => Tiny(SlotPlacement.Parse("0:2", "swiglu"), SlotPlacement.Parse("1:1", "swiglu")),
            _ => Tiny(),
        };

    [Theory, MemberData(nameof(Placements))]
    public void ChangingFutureTokensLeavesPastLogitsUnchanged(string placement)
    {
        torch.manual_seed(1);
        using var model = new TransformerLM(ConfigFor(placement));
        model.eval();
        using var _ = no_grad();
        var tokens = randint(0, 97, new long[] { 2, 20 });
        var changed = tokens.clone();
        changed[.., 12..] = randint(0, 97, new long[] { 2, 8 });
        var a = model.forward(tokens);
        var b = model.forward(changed);
        Assert.True(TestData.MaxAbsDiff(a[.., ..12], b[.., ..12]) < 1e-5f, "past logits changed");
        Assert.True(TestData.MaxAbsDiff(a[.., 12..], b[.., 12..]) > 1e-3f, "future logits did not react to their own tokens");
    }

    [Theory, MemberData(nameof(Placements))]
    public void KvCacheDecodingEqualsTheFullForwardPass(string placement)
    {
        torch.manual_seed(2);
        using var model = new TransformerLM(ConfigFor(placement));
        model.eval();
        using var _ = no_grad();
        var tokens = randint(0, 97, new long[] { 3, 18 });
        var full = model.forward(tokens);
        using var cache = new DecodeCache(model, 3);
        // a prefill of 5 tokens, one chunk of 4 (needs the offset causal mask), then single tokens
        var pieces = new List<Tensor> { model.Forward(tokens[.., ..5], cache), model.Forward(tokens[.., 5..9], cache) };
        for (int i = 9; i < 18; i++)
            pieces.Add(model.Forward(tokens[.., i..(i + 1)], cache));
        var incremental = cat(pieces, 1);
        Assert.Equal(18, cache.Position);
        Assert.True(TestData.MaxAbsDiff(full, incremental) < 1e-4f, $"max diff {TestData.MaxAbsDiff(full, incremental)}");
        var last = model.Forward(tokens[.., ..6], new DecodeCache(model, 3), lastPositionOnly: true);
        Assert.True(TestData.MaxAbsDiff(full[.., 5..6], last) < 1e-4f);
    }

    [Fact]
    public void ParameterNamesFollowPyTorchConventions()
    {
        using var model = new TransformerLM(Tiny(SlotPlacement.Parse("0:2", "swiglu")));
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("embed_tokens.weight", names);
        Assert.Contains("layers.0.self_attn.q_proj.weight", names);
        Assert.Contains("layers.2.mlp.down_proj.weight", names);
        Assert.Contains("layers.1.post_attention_layernorm.weight", names);
        Assert.Contains("memory_layers.0.gate_proj.weight", names);
        Assert.Contains("norm.weight", names);
        Assert.DoesNotContain(names, n => n.StartsWith("lm_head")); // tied by default
        long counted = model.parameters().Sum(p => p.numel());
        long reported = model.ParameterReport().Sum(r => r.Count.Total);
        Assert.Equal(counted, reported);
    }

    [Fact]
    public void AZeroedParallelSlotLeavesTheModelUnchanged()
    {
        torch.manual_seed(3);
        using var plain = new TransformerLM(Tiny());
        torch.manual_seed(3);
        using var withSlot = new TransformerLM(Tiny(SlotPlacement.Parse("1", "swiglu")));
        using var _ = no_grad();
        // copy the backbone, zero the slot's output projection: outputs must match exactly
        var src = plain.state_dict();
        foreach (var (name, p) in withSlot.named_parameters())
            if (src.TryGetValue(name, out var t))
                p.copy_(t);
            else if (name.EndsWith("down_proj.weight"))
                p.zero_();
        plain.eval();
        withSlot.eval();
        var tokens = randint(0, 97, new long[] { 2, 10 });
        Assert.True(TestData.MaxAbsDiff(plain.forward(tokens), withSlot.forward(tokens)) < 1e-6f);
    }
}
