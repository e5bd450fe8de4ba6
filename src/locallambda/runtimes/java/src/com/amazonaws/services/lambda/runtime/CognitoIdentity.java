package com.amazonaws.services.lambda.runtime;

/** The Amazon Cognito identity of the caller. */
public interface CognitoIdentity {

    /** The Cognito identity id. */
    String getIdentityId();

    /** The Cognito identity pool id. */
    String getIdentityPoolId();
}
