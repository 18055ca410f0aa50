package lanebench.springboot;

import org.springframework.http.HttpStatus;

/** A request the controller refuses, with the status and message to answer. */
class ApiException extends RuntimeException {

    private final HttpStatus status;

    ApiException(HttpStatus status, String message) {
        super(message, null, false, false);
        this.status = status;
    }

    HttpStatus status() {
        return status;
    }
}
