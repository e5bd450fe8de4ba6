package com.amazonaws.services.lambda.runtime;

/**
 * Information about the current invocation and the execution environment.
 *
 * <p>locallambda's own, API-compatible declaration of the interface from
 * aws-lambda-java-core: code compiled against either one runs unchanged.</p>
 */
public interface Context {

    /** The request id of this invocation (the same id the invoker sees). */
    String getAwsRequestId();

    /** The CloudWatch log group of the function; may be null. */
    String getLogGroupName();

    /** The CloudWatch log stream of this execution environment; may be null. */
    String getLogStreamName();

    /** The name of the function. */
    String getFunctionName();

    /** The version of the function being executed ({@code $LATEST} or a number). */
    String getFunctionVersion();

    /** The ARN used to invoke the function (may carry a version or alias qualifier). */
    String getInvokedFunctionArn();

    /** The Amazon Cognito identity of the caller, when invoked through a mobile SDK; may be null. */
    CognitoIdentity getIdentity();

    /** The client application context, when invoked through a mobile SDK; may be null. */
    ClientContext getClientContext();

    /** Milliseconds left before the invocation times out (never negative). */
    int getRemainingTimeInMillis();

    /** The memory configured for the function, in MB. */
    int getMemoryLimitInMB();

    /** The logger of this invocation; it writes to the function's log. */
    LambdaLogger getLogger();

    /** The tenant id of this invocation, if the function uses tenant isolation; else null. */
    default String getTenantId() {
        return null;
    }

    /** The X-Ray trace header of this invocation; may be null. */
    default String getXrayTraceId() {
        return null;
    }
}
