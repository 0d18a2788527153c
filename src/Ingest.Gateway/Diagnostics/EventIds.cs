namespace Ingest.Gateway.Diagnostics;

/// <summary>Every log event id of the gateway, in one place.</summary>
internal static class EventIds
{
    public const int GatewayStarted = 1;
    public const int EmbeddedKafkaStarted = 2;
    public const int DevEnvironmentPublished = 3;
    public const int ShutdownStarted = 4;
    public const int ConfigurationDeprecated = 5;
    public const int ShutdownConnectionsLeft = 6;
    public const int LimitsApplied = 7;
    public const int MemoryTrimmed = 8;
    public const int KafkaProperties = 9; // at Debug, secret values masked
    public const int SocketScheduling = 10;

    public const int ConnectionOpened = 100;
    public const int ConnectionClosed = 101;
    public const int ConnectionFailed = 102;
    public const int HandshakeRejected = 103; // any refused /ws or /stream request
    public const int MessageTooLarge = 104;
    public const int InvalidUtf8 = 105;
    public const int DrainTimedOut = 106;
    public const int ProtocolError = 107;
    public const int MessageTimedOut = 108;
    public const int OutboundLimit = 109;
    public const int SendTimedOut = 110;
    public const int ConnectionRefused = 111;
    public const int SweepFailed = 112;
    public const int CredentialRefused = 113; // why a request got 401: missing, invalid or expired; never the credential
    public const int TooManyRejected = 114;

    public const int ProducerStarted = 200;
    public const int ProducerStopped = 201;
    public const int ProducerError = 202;
    public const int ProducerFatalError = 203;
    public const int DeliveryFailed = 204;
    public const int DeadLetterFailed = 205;
    public const int FlushIncomplete = 206;
    public const int LibrdkafkaLog = 207;
    public const int KafkaReachable = 208;
    public const int KafkaUnreachable = 209;
    public const int ProducerCrashed = 210;
    public const int KafkaHealthCheckFailed = 211;
    public const int KafkaStatisticsUnreadable = 212;
    public const int DeadLettersFailing = 213;
    public const int TransactionalProducerStarted = 214;
    public const int TransactionsUnavailable = 215;
    public const int TransactionAborted = 216;
    public const int TransactionsFatal = 217;
    public const int CommitUnfinished = 218;

    public const int StreamConsumerStarted = 300;
    public const int StreamConsumerStopped = 301;
    public const int StreamPositioned = 302;
    public const int StreamKafkaUnreachable = 303;
    public const int StreamConsumeError = 304;
    public const int StreamConsumerFailed = 305;
    public const int StreamLibrdkafkaLog = 306;
    public const int SubscriberOpened = 310;
    public const int SubscriberClosed = 311;
    public const int SubscriberDropping = 312;
    public const int SubscriberStalled = 313;
}
