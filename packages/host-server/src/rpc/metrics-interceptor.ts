// RPC counts and latencies by method and status code. It sits outside every other interceptor,
// so refused calls (a wrong token, a bad spec) are counted under their codes too; a stream is timed
// until it ends, however it ends.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { HostMetrics } from "../metrics.js";
import { codeName } from "./error-mapping.js";

function codeOfFailure(error: unknown): string {
  return codeName(error instanceof ConnectError ? error.code : Code.Unknown);
}

/** Records every RPC in `rpcHandled` and `rpcDuration`. */
export function createMetricsInterceptor(metrics: HostMetrics): Interceptor {
  return (next) => async (req) => {
    const method = `${req.service.name}/${req.method.name}`;
    const end = metrics.rpcDuration.startTimer({ method });
    const done = (code: string) => {
      end({ code });
      metrics.rpcHandled.inc({ method, code });
    };
    let res;
    try {
      res = await next(req);
    } catch (error) {
      done(codeOfFailure(error));
      throw error;
    }
    if (!res.stream) {
      done("ok");
      return res;
    }
    const messages = res.message;
    async function* timed() {
      let code = codeName(Code.Canceled);
      try {
        yield* messages;
        code = "ok";
      } catch (error) {
        code = codeOfFailure(error);
        throw error;
      } finally {
        // Reached without a result when the client went away mid-stream.
        done(code);
      }
    }
    return { ...res, message: timed() };
  };
}
