namespace UltraMem.IO;

/// <summary>
/// One writing process per folder: an exclusive advisory lock on <c>FOLDER/.lock</c>, held until disposed or until the process
/// ends (a killed process leaves the file but not the lock). Used by <c>train</c> (the run folder) and <c>compare</c>.
/// </summary>
public static class FolderLock
{
    /// <summary>Takes the lock of <paramref name="folder"/> (which must exist); <paramref name="who"/> names the command in the error.</summary>
    public static FileStream Acquire(string folder, string who)
    {
        string path = Path.Combine(folder, ".lock");
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new UltraMemException(
                $"another `{who}` is working in {folder} (it holds {path}); wait for it or choose another --out folder"
            );
        }
    }
}
