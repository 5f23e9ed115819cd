namespace FiRST.Runtime.Tokenization;

/// <summary>SentencePiece's piece types, with the numbers <c>sentencepiece_model.proto</c> gives them.</summary>
internal enum PieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
