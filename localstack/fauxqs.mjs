// Starts fauxqs (SQS emulator, pinned in package.json) on 127.0.0.1 for sesq's
// tests and demo, with request logging off (fauxqs's CLI forces it on).
//
// FAUXQS_PORT  port to listen on (default 4566)
//
// Queue URLs keep fauxqs's own form, http://sqs.REGION.localhost:PORT/ACCOUNT/NAME.
// That host does not resolve: clients send requests to AWS_ENDPOINT_URL_SQS and
// pass the URL verbatim as the QueueUrl parameter.
import { buildApp } from "fauxqs";

const port = Number.parseInt(process.env.FAUXQS_PORT ?? "4566", 10);
const app = buildApp({ logger: false });
await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs listening on http://127.0.0.1:${port}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  try {
    await app.close();
  } finally {
    process.exit(0);
  }
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
