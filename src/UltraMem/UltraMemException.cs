namespace UltraMem;

/// <summary>An error raised by UltraMem with a message that names the object and the problem.</summary>
public class UltraMemException : Exception
{
    public UltraMemException(string message) : base(message) { }

    public UltraMemException(string message, Exception innerException) : base(message, innerException) { }
}
