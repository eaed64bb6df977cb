using UltraMem.Layers;
using static TorchSharp.torch;

namespace UltraMem.Model;

/// <summary>
/// One pre-norm decoder block: h ← h + Attn(RMSNorm(h)); x = RMSNorm(h); h ← h + FFN(x) (+ plugged-in layers).
/// </summary>
public sealed class DecoderBlock : nn.Module
{
    public RMSNorm input_layernorm;
    public CausalSelfAttention self_attn;
    public RMSNorm post_attention_layernorm;
    public FeedForwardSlot? mlp; // null when the FFN is replaced by a plugged-in layer or ffn = none

    public DecoderBlock(ModelConfig c, bool withFfn)
        : base(nameof(DecoderBlock))
    {
        input_layernorm = new RMSNorm(c.DModel, c.NormEps);
        self_attn = new CausalSelfAttention(c.DModel, c.NHeads, c.Dropout);
        post_attention_layernorm = new RMSNorm(c.DModel, c.NormEps);
        mlp = withFfn ? new SwiGLU(c.DModel, c.FfnHiddenResolved) : null;
        RegisterComponents();
    }
}
