package com.amazonaws.services.lambda.runtime;

/**
 * A handler whose input and output are converted from and to JSON by the runtime.
 *
 * @param <I> the input type (event)
 * @param <O> the output type (result)
 */
public interface RequestHandler<I, O> {

    /** Handles one invocation. */
    O handleRequest(I input, Context context);
}
