using UltraMem.Platform;
NativeEnvironment.Apply();
Console.WriteLine(TorchSharp.torch.ones(2, 2).sum().item<float>());
