// Command testplugin is a Notary Project plugin for the tests of package
// plugin, written against the protocol text with the standard library only
// (it shares no code with the host it tests).
//
// One executable plays every part. Installed as notation-NAME, its
// behaviour comes from the last dot-separated element of NAME (the "name
// mode", e.g. com.example.raw => "raw"), which get-plugin-metadata follows,
// and from pluginConfig["mode"] for the other commands when set.
//
// Keys: pluginConfig["keydir"] is a directory holding KEYID.key (PKCS#8
// PEM) and KEYID.crt (PEM chain, leaf first) for each key ID.
//
// Hanging modes write their PID to DIR/pids/PID, DIR being the directory
// of the executable, so that tests can check the process was killed.
package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "sleep-child" {
		writePID()
		time.Sleep(time.Hour)
		return
	}
	if len(os.Args) != 2 {
		fail("VALIDATION_ERROR", "usage: notation-NAME COMMAND")
	}
	exe, _ := os.Executable()
	name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(exe), "notation-"), ".exe")
	nameMode := name[strings.LastIndex(name, ".")+1:]

	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("ERROR", err.Error())
	}
	var req map[string]any
	if err := json.Unmarshal(in, &req); err != nil {
		fail("VALIDATION_ERROR", "Input is not a valid JSON")
	}
	config := map[string]string{}
	if c, ok := req["pluginConfig"].(map[string]any); ok {
		for k, v := range c {
			config[k], _ = v.(string)
		}
	}
	mode := nameMode
	if m := config["mode"]; m != "" && os.Args[1] != "get-plugin-metadata" {
		mode = m
	}
	if processFault(mode) {
		return
	}
	var resp any
	switch os.Args[1] {
	case "get-plugin-metadata":
		resp = metadata(name, nameMode)
	case "describe-key":
		resp = describeKey(req, config, mode)
	case "generate-signature":
		resp = generateSignature(req, config, mode)
	case "generate-envelope":
		resp = generateEnvelope(req, config, mode)
	case "verify-signature":
		resp = verifySignature(req, mode)
	default:
		fail("ERROR", "unknown command "+os.Args[1])
	}
	out, err := json.Marshal(resp)
	if err != nil {
		fail("ERROR", err.Error())
	}
	if mode == "trailing" {
		out = append(out, []byte(" and then some")...)
	}
	os.Stdout.Write(out)
}

// processFault misbehaves at the process level; it reports whether the
// response has been produced (or never will be).
func processFault(mode string) bool {
	switch mode {
	case "hang":
		writePID()
		time.Sleep(time.Hour)
	case "hangchild":
		exe, _ := os.Executable()
		child := exec.Command(exe, "sleep-child")
		child.Stdout, child.Stderr = os.Stdout, os.Stderr // holds the pipes open
		if err := child.Start(); err != nil {
			fail("ERROR", err.Error())
		}
		writePID()
		time.Sleep(time.Hour)
	case "crash":
		os.Exit(2)
	case "flood", "floodstderr":
		w := os.Stdout
		if mode == "floodstderr" {
			w = os.Stderr
		}
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for i := 0; i < 100; i++ { // 100 MiB
			if _, err := w.Write(chunk); err != nil {
				os.Exit(3)
			}
		}
		if mode == "floodstderr" {
			os.Exit(1)
		}
		return true
	case "garbage":
		os.Stdout.WriteString("{this is not json")
		return true
	case "stderrgarbage":
		os.Stderr.WriteString("panic: runtime error: invalid memory address\n\x1b[31mgoroutine 1\x1b[0m\n")
		os.Exit(1)
	case "exit0stderr":
		// Success status, an error on stderr and nothing on stdout.
		os.Stderr.WriteString(`{"errorCode":"ERROR","errorMessage":"ignored"}`)
		return true
	default:
		if code, ok := strings.CutPrefix(mode, "error-"); ok {
			writeJSON(os.Stderr, map[string]any{
				"errorCode":     code,
				"errorMessage":  "key vault said no\x1b[2J",
				"errorMetadata": map[string]string{"requestId": "r-42"},
			})
			os.Exit(1)
		}
	}
	return false
}

// version is the version get-plugin-metadata reports in most modes; tests
// of plugin installation build other versions with
// -ldflags "-X main.version=2.0.0".
var version = "1.2.3"

func metadata(name, mode string) map[string]any {
	md := map[string]any{
		"name":                      name,
		"description":               "signet test plugin (" + mode + ")",
		"version":                   version,
		"url":                       "https://example.com/signet-test-plugin",
		"supportedContractVersions": []string{"1.0"},
	}
	switch mode {
	case "raw", "hang", "hangchild", "crash", "flood", "floodstderr", "garbage", "stderrgarbage", "exit0stderr", "trailing":
		md["capabilities"] = []string{"SIGNATURE_GENERATOR.RAW"}
	case "envelope", "envelopesa":
		md["capabilities"] = []string{"SIGNATURE_GENERATOR.ENVELOPE"}
	case "envelopeblob":
		md["capabilities"] = []string{"SIGNATURE_GENERATOR.ENVELOPE_FOR_BLOB"}
	case "both":
		md["capabilities"] = []string{"SIGNATURE_GENERATOR.ENVELOPE", "SIGNATURE_GENERATOR.RAW"}
	case "verifier":
		md["capabilities"] = []string{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY", "SIGNATURE_VERIFIER.REVOCATION_CHECK"}
	case "identity":
		md["capabilities"] = []string{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY"}
	case "oldverifier":
		md["capabilities"] = []string{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY"}
		md["version"] = "1.1.9"
	case "vverifier":
		md["capabilities"] = []string{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY"}
		md["version"] = "v1.3.0"
	case "future":
		// A newer plugin: an unknown capability and an extra member.
		md["capabilities"] = []string{"SIGNATURE_GENERATOR.RAW", "SIGNATURE_GENERATOR.QUANTUM"}
		md["supportedContractVersions"] = []string{"1.0", "1.1"}
		md["homepage"] = "https://example.com"
	case "badname":
		md["name"] = "com.example.other"
		md["capabilities"] = []string{"SIGNATURE_GENERATOR.RAW"}
	case "v2only":
		md["supportedContractVersions"] = []string{"2.0"}
		md["capabilities"] = []string{"SIGNATURE_GENERATOR.RAW"}
	case "nocaps":
		md["capabilities"] = []string{}
	default:
		md["capabilities"] = []string{"SIGNATURE_GENERATOR.RAW"}
	}
	return md
}

type key struct {
	signer crypto.Signer
	chain  [][]byte
	spec   string
}

func loadKey(config map[string]string, id string) key {
	dir := config["keydir"]
	if dir == "" || id == "" || strings.ContainsAny(id, `/\`) {
		fail("VALIDATION_ERROR", "unknown keyId "+strconv.Quote(id))
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, id+".key"))
	if err != nil {
		fail("VALIDATION_ERROR", "unknown keyId "+strconv.Quote(id))
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		fail("ERROR", "key file is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		fail("ERROR", err.Error())
	}
	chainPEM, err := os.ReadFile(filepath.Join(dir, id+".crt"))
	if err != nil {
		fail("ERROR", err.Error())
	}
	var chain [][]byte
	for {
		var b *pem.Block
		b, chainPEM = pem.Decode(chainPEM)
		if b == nil {
			break
		}
		chain = append(chain, b.Bytes)
	}
	out := key{signer: k.(crypto.Signer), chain: chain}
	switch pub := out.signer.Public().(type) {
	case *rsa.PublicKey:
		out.spec = fmt.Sprintf("RSA-%d", pub.N.BitLen())
	case *ecdsa.PublicKey:
		out.spec = fmt.Sprintf("EC-%d", pub.Curve.Params().BitSize)
	}
	return out
}

func str(req map[string]any, k string) string { s, _ := req[k].(string); return s }

func describeKey(req map[string]any, config map[string]string, mode string) map[string]any {
	id := str(req, "keyId")
	k := loadKey(config, id)
	resp := map[string]any{"keyId": id, "keySpec": k.spec}
	switch mode {
	case "describe-wrongkeyid":
		resp["keyId"] = id + "-other"
	case "describe-unknownspec":
		resp["keySpec"] = "RSA-1024"
	case "describe-otherspec":
		if k.spec == "EC-256" {
			resp["keySpec"] = "EC-384"
		} else {
			resp["keySpec"] = "EC-256"
		}
	}
	return resp
}

func hashFor(spec string) (crypto.Hash, string) {
	switch spec {
	case "RSA-2048", "EC-256":
		return crypto.SHA256, "SHA-256"
	case "RSA-3072", "EC-384":
		return crypto.SHA384, "SHA-384"
	}
	return crypto.SHA512, "SHA-512"
}

func algFor(spec string) string {
	_, h := hashFor(spec)
	if strings.HasPrefix(spec, "RSA") {
		return "RSASSA-PSS-" + h
	}
	return "ECDSA-" + h
}

// sign signs message as the protocol requires: RSASSA-PSS with salt
// length equal to the hash length, or ECDSA as fixed-width r||s.
func sign(k key, message []byte, mode string) []byte {
	h, _ := hashFor(k.spec)
	hasher := h.New()
	hasher.Write(message)
	sum := hasher.Sum(nil)
	switch s := k.signer.(type) {
	case *rsa.PrivateKey:
		salt := rsa.PSSSaltLengthEqualsHash
		if mode == "maxsalt" {
			salt = rsa.PSSSaltLengthAuto
		}
		sig, err := rsa.SignPSS(rand.Reader, s, h, sum, &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			fail("ERROR", err.Error())
		}
		return sig
	case *ecdsa.PrivateKey:
		if mode == "dersig" {
			sig, err := ecdsa.SignASN1(rand.Reader, s, sum)
			if err != nil {
				fail("ERROR", err.Error())
			}
			return sig
		}
		r, ss, err := ecdsa.Sign(rand.Reader, s, sum)
		if err != nil {
			fail("ERROR", err.Error())
		}
		size := (s.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		ss.FillBytes(out[size:])
		return out
	}
	fail("ERROR", "unsupported key")
	return nil
}

func generateSignature(req map[string]any, config map[string]string, mode string) map[string]any {
	id := str(req, "keyId")
	k := loadKey(config, id)
	_, wantHash := hashFor(k.spec)
	if str(req, "keySpec") != k.spec || str(req, "hashAlgorithm") != wantHash {
		fail("VALIDATION_ERROR", fmt.Sprintf("keySpec %q / hashAlgorithm %q do not fit key %s", str(req, "keySpec"), str(req, "hashAlgorithm"), k.spec))
	}
	payload, err := base64.StdEncoding.DecodeString(str(req, "payload"))
	if err != nil || len(payload) == 0 {
		fail("VALIDATION_ERROR", "payload is not base64")
	}
	message := payload
	if mode == "otherpayload" {
		message = append([]byte("something else: "), payload...)
	}
	chain := k.chain
	switch mode {
	case "otherkey":
		chain = loadKey(config, config["otherkey"]).chain
	case "badcert":
		chain = [][]byte{[]byte("not a certificate")}
	case "leafonly":
		chain = chain[:1]
	case "rotate":
		// Every second call returns the other key's chain (and signs
		// with the other key, so each response verifies on its own).
		state := filepath.Join(config["keydir"], "rotate-count")
		n, _ := os.ReadFile(state)
		count, _ := strconv.Atoi(string(n))
		os.WriteFile(state, []byte(strconv.Itoa(count+1)), 0o600)
		if count%2 == 1 {
			k = loadKey(config, config["otherkey"])
			chain = k.chain
		}
	}
	resp := map[string]any{
		"keyId":            id,
		"signature":        sign(k, message, mode),
		"signingAlgorithm": algFor(k.spec),
		"certificateChain": chain,
	}
	switch mode {
	case "wrongkeyid":
		resp["keyId"] = "someone-else"
	case "wrongalg":
		if strings.HasPrefix(k.spec, "RSA") {
			resp["signingAlgorithm"] = "ECDSA-SHA-256"
		} else {
			resp["signingAlgorithm"] = "RSASSA-PSS-SHA-256"
		}
	case "nochain":
		delete(resp, "certificateChain")
	}
	return resp
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// generateEnvelope builds a JWS flattened envelope by hand (JWS only).
func generateEnvelope(req map[string]any, config map[string]string, mode string) map[string]any {
	envType := str(req, "signatureEnvelopeType")
	if envType != "application/jose+json" {
		fail("VALIDATION_ERROR", "signatureEnvelopeType "+strconv.Quote(envType)+" is not supported")
	}
	if str(req, "payloadType") != "application/vnd.cncf.notary.payload.v1+json" {
		fail("VALIDATION_ERROR", "unsupported payloadType")
	}
	payload, err := base64.StdEncoding.DecodeString(str(req, "payload"))
	if err != nil {
		fail("VALIDATION_ERROR", "payload is not base64")
	}
	payload = tamperPayload(payload, mode)
	k := loadKey(config, str(req, "keyId"))
	now := time.Now().UTC().Truncate(time.Second)
	hdr := map[string]any{
		"alg":                          map[string]string{"RSA-2048": "PS256", "RSA-3072": "PS384", "RSA-4096": "PS512", "EC-256": "ES256", "EC-384": "ES384", "EC-521": "ES512"}[k.spec],
		"cty":                          "application/vnd.cncf.notary.payload.v1+json",
		"io.cncf.notary.signingScheme": "notary.x509",
		"io.cncf.notary.signingTime":   now.Format(time.RFC3339),
		"crit":                         []string{"io.cncf.notary.signingScheme"},
	}
	crit := []string{"io.cncf.notary.signingScheme"}
	if mode == "envelopesa" {
		// A signing authority: notary.x509.signingAuthority with an
		// authentic signing time instead of the signing time.
		delete(hdr, "io.cncf.notary.signingTime")
		hdr["io.cncf.notary.signingScheme"] = "notary.x509.signingAuthority"
		hdr["io.cncf.notary.authenticSigningTime"] = now.Format(time.RFC3339)
		crit = append(crit, "io.cncf.notary.authenticSigningTime")
	}
	if exp, ok := req["expiryDurationInSeconds"].(float64); ok && exp > 0 {
		hdr["io.cncf.notary.expiry"] = now.Add(time.Duration(exp) * time.Second).Format(time.RFC3339)
		crit = append(crit, "io.cncf.notary.expiry")
	}
	hdr["crit"] = crit
	hdrJSON, _ := json.Marshal(hdr)
	protected, payloadB64 := b64url(hdrJSON), b64url(payload)
	sig := sign(k, []byte(protected+"."+payloadB64), mode)
	if mode == "badsig" {
		sig[len(sig)/2] ^= 0xff
	}
	env, _ := json.Marshal(map[string]any{
		"payload":   payloadB64,
		"protected": protected,
		"header":    map[string]any{"x5c": k.chain},
		"signature": b64url(sig),
	})
	resp := map[string]any{
		"signatureEnvelope":     env,
		"signatureEnvelopeType": envType,
		"annotations":           map[string]string{"com.example.signed-by": "test-plugin"},
	}
	switch mode {
	case "wrongtype":
		resp["signatureEnvelopeType"] = "application/cose"
	case "reservedannotation":
		resp["annotations"] = map[string]string{"io.cncf.notary.x509chain.thumbprint#S256": `["00"]`}
	case "notenvelope":
		resp["signatureEnvelope"] = []byte(`{"payload":"e30"}`)
	}
	return resp
}

// tamperPayload edits the payload JSON for the hostile envelope modes.
func tamperPayload(payload []byte, mode string) []byte {
	var p map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		fail("VALIDATION_ERROR", "payload is not JSON")
	}
	t, _ := p["targetArtifact"].(map[string]any)
	if t == nil {
		fail("VALIDATION_ERROR", "payload has no targetArtifact")
	}
	ann, _ := t["annotations"].(map[string]any)
	switch mode {
	case "digest":
		t["digest"] = "sha256:" + fmt.Sprintf("%x", sha256.Sum256([]byte("another artifact")))
	case "size":
		t["size"] = json.Number("1")
	case "addannotation":
		if ann == nil {
			ann = map[string]any{}
			t["annotations"] = ann
		}
		ann["com.example.added-by-plugin"] = "yes"
	case "dropannotation":
		for k := range ann {
			delete(ann, k)
			break
		}
	case "changeannotation":
		for k := range ann {
			ann[k] = "changed"
			break
		}
	case "extramember":
		t["com.example.extra"] = "x"
	case "adddescriptormember":
		t["urls"] = []string{"https://example.com/elsewhere"}
	case "extratop":
		p["extra"] = true
	case "duplicate":
		// Two digests: encoding/json keeps the last one.
		b, _ := json.Marshal(p)
		other := fmt.Sprintf(`"digest":"sha256:%x",`, sha512.Sum512_256([]byte("x")))
		return bytes.Replace(b, []byte(`"digest":`), []byte(other+`"digest":`), 1)
	default:
		return payload
	}
	b, _ := json.Marshal(p)
	return b
}

func verifySignature(req map[string]any, mode string) map[string]any {
	sigObj, _ := req["signature"].(map[string]any)
	tp, _ := req["trustPolicy"].(map[string]any)
	caps, _ := tp["signatureVerification"].([]any)
	unprocessed, _ := sigObj["unprocessedAttributes"].([]any)
	results := map[string]any{}
	for _, c := range caps {
		name, _ := c.(string)
		switch mode {
		case "fail":
			results[name] = map[string]any{"success": false, "reason": "identity is not trusted"}
		case "noreason":
			results[name] = map[string]any{"success": false}
		default:
			results[name] = map[string]any{"success": true}
		}
	}
	switch mode {
	case "missingresult":
		delete(results, "SIGNATURE_VERIFIER.TRUSTED_IDENTITY")
	case "extraresult":
		results["SIGNATURE_VERIFIER.REVOCATION_CHECK"] = map[string]any{"success": true}
	}
	processed := []string{}
	if mode != "unprocessed" {
		for _, a := range unprocessed {
			s, _ := a.(string)
			processed = append(processed, s)
		}
	}
	sort.Strings(processed)
	return map[string]any{"verificationResults": results, "processedAttributes": processed}
}

func writePID() {
	exe, _ := os.Executable()
	dir := filepath.Join(filepath.Dir(exe), "pids")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), nil, 0o600)
}

func writeJSON(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	w.Write(b)
}

func fail(code, msg string) {
	writeJSON(os.Stderr, map[string]string{"errorCode": code, "errorMessage": msg})
	os.Exit(1)
}
