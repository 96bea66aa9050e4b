/**
 * @module A throwaway certificate authority for the namespace world, made with openssl at test
 * time: the CA (which the router trusts through `DENO_CERT`) and a server certificate for the
 * EC2 endpoint's real name, `ec2.<region>.amazonaws.com`.
 */
import { must } from "./host.ts";

export interface TestCa {
  /** The CA certificate, PEM: the file `DENO_CERT` names. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export async function makeTestCa(dir: string, hostname: string): Promise<TestCa> {
  const file = (name: string) => `${dir}/${name}`;
  await must("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=aws-nat-router test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await must("openssl", [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    file("server.key"),
    "-out",
    file("server.csr"),
    "-subj",
    `/CN=${hostname}`,
  ]);
  await Deno.writeTextFile(
    file("server.ext"),
    `subjectAltName=DNS:${hostname}\nextendedKeyUsage=serverAuth\n` +
      `keyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n`,
  );
  await must("openssl", [
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.pem"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-out",
    file("server.pem"),
    "-days",
    "2",
    "-extfile",
    file("server.ext"),
  ]);
  return { caFile: file("ca.pem"), certFile: file("server.pem"), keyFile: file("server.key") };
}
