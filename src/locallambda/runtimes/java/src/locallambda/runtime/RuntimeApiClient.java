package locallambda.runtime;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * A minimal HTTP/1.1 client for the Lambda Runtime API.
 *
 * <p>It keeps one keep-alive connection to {@code AWS_LAMBDA_RUNTIME_API} and speaks just enough
 * HTTP for the Runtime API: requests with a {@code Content-Length} body, responses with
 * {@code Content-Length}, {@code Transfer-Encoding: chunked} or a body delimited by the end of the
 * connection. A plain socket loads far fewer classes than {@code java.net.http} or
 * {@code HttpURLConnection}, which shortens the JVM's start-up, and costs nothing per invoke.</p>
 *
 * <p>Not thread-safe: the runtime loop is its only user.</p>
 */
final class RuntimeApiClient {

    static final String BASE = "/2018-06-01/runtime";

    /** One HTTP response. Header names are lower-cased; a repeated header keeps its last value. */
    static final class Response {
        final int status;
        final Map<String, String> headers;
        final byte[] body;

        Response(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }

        String header(String lowerCaseName) {
            return headers.get(lowerCaseName);
        }
    }


    private final String host;
    private final int port;
    private final String hostHeader;
    private final String userAgent;

    private Socket socket;
    private InputStream in;
    private OutputStream out;

    /**
     * @param runtimeApi the bare {@code host:port} of the Runtime API (no scheme, no path)
     * @throws IllegalArgumentException if the address has no port
     */
    RuntimeApiClient(String runtimeApi) {
        String hp = runtimeApi.trim();
        if (hp.startsWith("http://")) {
            hp = hp.substring(7);
        }
        int slash = hp.indexOf('/');
        if (slash >= 0) {
            hp = hp.substring(0, slash);
        }
        int colon = hp.lastIndexOf(':');
        if (colon <= 0 || colon == hp.length() - 1) {
            throw new IllegalArgumentException("AWS_LAMBDA_RUNTIME_API must be host:port, got '" + runtimeApi + "'");
        }
        String h = hp.substring(0, colon);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        this.host = h;
        this.port = Integer.parseInt(hp.substring(colon + 1));
        this.hostHeader = hp;
        String vendor = System.getProperty("java.vendor.version");
        if (vendor == null) {
            vendor = System.getProperty("java.version");
        }
        this.userAgent = "aws-lambda-java/" + vendor + "-locallambda";
    }

    /** {@code GET /runtime/invocation/next}; blocks until the Runtime API hands out an invocation. */
    Response next() throws IOException {
        return request("GET", BASE + "/invocation/next", null, null);
    }

    /** {@code POST /runtime/invocation/{id}/response}. */
    Response postResponse(String requestId, byte[] body, int length) throws IOException {
        return request("POST", BASE + "/invocation/" + requestId + "/response", null, body, length);
    }

    /** {@code POST /runtime/invocation/{id}/error} with the error-type header. */
    Response postError(String requestId, byte[] body, String errorTypeHeader) throws IOException {
        return request("POST", BASE + "/invocation/" + requestId + "/error", errorTypeHeader, body);
    }

    /** {@code POST /runtime/init/error} with the error-type header. */
    Response postInitError(byte[] body, String errorTypeHeader) throws IOException {
        return request("POST", BASE + "/init/error", errorTypeHeader, body);
    }

    void close() {
        Socket s = socket;
        socket = null;
        in = null;
        out = null;
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // nothing to do
            }
        }
    }

    private Response request(String method, String path, String errorType, byte[] body) throws IOException {
        return request(method, path, errorType, body, body == null ? 0 : body.length);
    }

    private Response request(String method, String path, String errorType, byte[] body, int length)
            throws IOException {
        byte[] head = buildHead(method, path, errorType, body != null, length);
        // A kept-alive connection may have been closed by the server while we were idle: then the
        // request fails without having been processed, and one retry on a fresh connection is safe.
        for (int attempt = 0; ; attempt++) {
            boolean fresh = socket == null;
            if (fresh) {
                connect();
            }
            try {
                out.write(head);
                if (body != null && length > 0) {
                    out.write(body, 0, length);
                }
                out.flush();
                return readResponse();
            } catch (IOException e) {
                close();
                if (fresh || attempt > 0) {
                    throw e;
                }
            }
        }
    }

    private void connect() throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.setKeepAlive(true);
        s.connect(new InetSocketAddress(host, port), 10_000);
        socket = s;
        in = new BufferedInputStream(s.getInputStream(), 16 * 1024);
        out = s.getOutputStream();
    }

    private byte[] buildHead(String method, String path, String errorType, boolean hasBody, int length) {
        StringBuilder sb = new StringBuilder(256);
        sb.append(method).append(' ').append(path).append(" HTTP/1.1\r\n");
        sb.append("Host: ").append(hostHeader).append("\r\n");
        sb.append("User-Agent: ").append(userAgent).append("\r\n");
        if (hasBody || "POST".equals(method)) {
            sb.append("Content-Type: application/json\r\n");
            sb.append("Content-Length: ").append(length).append("\r\n");
        }
        if (errorType != null) {
            sb.append("Lambda-Runtime-Function-Error-Type: ").append(headerSafe(errorType)).append("\r\n");
        }
        sb.append("\r\n");
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static String headerSafe(String v) {
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '\r' || c == '\n') {
                return v.replace('\r', ' ').replace('\n', ' ');
            }
        }
        return v;
    }

    private Response readResponse() throws IOException {
        while (true) {
            String statusLine = readLine();
            if (statusLine == null) {
                throw new EOFException("Runtime API closed the connection");
            }
            if (statusLine.isEmpty()) {
                continue;
            }
            int sp1 = statusLine.indexOf(' ');
            if (sp1 < 0 || !statusLine.startsWith("HTTP/")) {
                throw new IOException("Malformed status line from Runtime API: " + statusLine);
            }
            int sp2 = statusLine.indexOf(' ', sp1 + 1);
            int status = Integer.parseInt(statusLine.substring(sp1 + 1, sp2 < 0 ? statusLine.length() : sp2).trim());
            boolean http10 = statusLine.startsWith("HTTP/1.0");
            Map<String, String> headers = new HashMap<>();
            String line;
            while ((line = readLine()) != null && !line.isEmpty()) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    headers.put(line.substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT),
                            line.substring(colon + 1).trim());
                }
            }
            if (line == null) {
                throw new EOFException("Runtime API closed the connection inside the response headers");
            }
            if (status >= 100 && status < 200) {
                continue; // interim response (100 Continue): the real one follows
            }
            String connection = headers.get("connection");
            boolean closeAfter = http10 ? !"keep-alive".equalsIgnoreCase(connection)
                    : "close".equalsIgnoreCase(connection);
            byte[] body;
            String te = headers.get("transfer-encoding");
            String cl = headers.get("content-length");
            if (status == 204 || status == 304) {
                body = new byte[0];
            } else if (te != null && te.toLowerCase(java.util.Locale.ROOT).contains("chunked")) {
                body = readChunked();
            } else if (cl != null) {
                body = readFully(Integer.parseInt(cl.trim()));
            } else {
                body = readToEnd();
                closeAfter = true;
            }
            if (closeAfter) {
                close();
            }
            return new Response(status, headers, body);
        }
    }

    private String readLine() throws IOException {
        StringBuilder sb = new StringBuilder(64);
        int c;
        while ((c = in.read()) != -1) {
            if (c == '\n') {
                int n = sb.length();
                if (n > 0 && sb.charAt(n - 1) == '\r') {
                    sb.setLength(n - 1);
                }
                return sb.toString();
            }
            sb.append((char) c); // headers are ISO-8859-1
        }
        return sb.length() == 0 ? null : sb.toString();
    }

    private byte[] readFully(int n) throws IOException {
        byte[] buf = new byte[n];
        int off = 0;
        while (off < n) {
            int r = in.read(buf, off, n - off);
            if (r < 0) {
                throw new EOFException("Runtime API closed the connection inside a response body");
            }
            off += r;
        }
        return buf;
    }

    private byte[] readChunked() throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = readLine();
            if (sizeLine == null) {
                throw new EOFException("Runtime API closed the connection inside a chunked body");
            }
            int semi = sizeLine.indexOf(';');
            String hex = (semi >= 0 ? sizeLine.substring(0, semi) : sizeLine).trim();
            if (hex.isEmpty()) {
                continue;
            }
            int size = Integer.parseInt(hex, 16);
            if (size == 0) {
                String trailer;
                while ((trailer = readLine()) != null && !trailer.isEmpty()) {
                    // ignore trailers
                }
                return bos.toByteArray();
            }
            bos.write(readFully(size));
            readLine(); // CRLF after the chunk
        }
    }

    private byte[] readToEnd() throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int r;
        while ((r = in.read(buf)) > 0) {
            bos.write(buf, 0, r);
        }
        return bos.toByteArray();
    }
}
