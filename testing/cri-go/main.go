// cri-go-client: a CRI client built on grpc-go that dials a Unix socket exactly
// as kubelet does, so tests reach imagegate through the client kubelet uses.
//
//	-dial path       kubelet <= 1.30 (pkg/kubelet/cri/remote): grpc.DialContext(ctx, "/path.sock",
//	                 WithInsecure, WithContextDialer(unix)) with no authority option, so grpc-go
//	                 sends ":authority: /path.sock"
//	-dial localhost  kubelet >= 1.31 (k8s.io/cri-client): the same plus WithAuthority("localhost")
//	-dial empty      an empty ":authority" (target "passthrough:///", the dialer ignores the address)
//
// Requests and responses are protobuf bytes (a raw codec forced on every call), so the
// tests encode and decode them with the project's own proto definitions.
//
// Modes:
//
//	cri-go-client -socket S -dial D call METHOD [BASE64]   one call; prints the response as base64
//	                                                      on success, "CODE message" on stderr and
//	                                                      exit 1 on a gRPC error
//	cri-go-client -socket S -dial D serve                  many calls over one connection, as kubelet
//	                                                      keeps one: JSON lines on stdin
//	                                                      {"id":1,"method":"/pkg.Svc/M","body":"<b64>","timeoutMs":0}
//	                                                      or {"id":1,"cancel":true}; one JSON line per
//	                                                      call on stdout {"id":1,"code":0,"message":"","body":"<b64>"}
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// rawCodec passes protobuf bytes through unchanged; its name keeps the
// content-type "application/grpc" that kubelet's default codec sends.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// kubelet's maximum message size (pkg/kubelet/cri/remote: maxMsgSize = 16 MiB).
const maxMsgSize = 16 * 1024 * 1024

func dial(socket, form string) (*grpc.ClientConn, error) {
	dialer := func(ctx context.Context, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}
	options := []grpc.DialOption{
		grpc.WithInsecure(),
		grpc.WithContextDialer(dialer),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
	}
	target := socket
	switch form {
	case "path":
	case "localhost":
		options = append(options, grpc.WithAuthority("localhost"))
	case "empty":
		target = "passthrough:///"
	default:
		return nil, fmt.Errorf("-dial must be path, localhost or empty, not %q", form)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return grpc.DialContext(ctx, target, options...)
}

func invoke(ctx context.Context, conn *grpc.ClientConn, method string, body []byte) ([]byte, error) {
	var reply []byte
	err := conn.Invoke(ctx, method, &body, &reply, grpc.ForceCodec(rawCodec{}))
	return reply, err
}

type request struct {
	ID        int64  `json:"id"`
	Method    string `json:"method"`
	Body      string `json:"body"`
	TimeoutMs int64  `json:"timeoutMs"`
	Cancel    bool   `json:"cancel"`
}

type response struct {
	ID      int64  `json:"id"`
	Code    int    `json:"code"`
	Message string `json:"message"`
	Body    string `json:"body"`
}

func serve(conn *grpc.ClientConn) {
	var mu sync.Mutex
	cancels := map[int64]context.CancelFunc{}
	out := json.NewEncoder(os.Stdout)
	var wg sync.WaitGroup
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for lines.Scan() {
		var req request
		if err := json.Unmarshal(lines.Bytes(), &req); err != nil {
			fmt.Fprintf(os.Stderr, "bad request line: %v\n", err)
			os.Exit(2)
		}
		if req.Cancel {
			mu.Lock()
			if cancel := cancels[req.ID]; cancel != nil {
				cancel()
			}
			mu.Unlock()
			continue
		}
		body, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bad body: %v\n", err)
			os.Exit(2)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if req.TimeoutMs > 0 {
			ctx, cancel = context.WithTimeout(context.Background(), time.Duration(req.TimeoutMs)*time.Millisecond)
		}
		mu.Lock()
		cancels[req.ID] = cancel
		mu.Unlock()
		wg.Add(1)
		go func(req request) {
			defer wg.Done()
			reply, err := invoke(ctx, conn, req.Method, body)
			mu.Lock()
			defer mu.Unlock()
			cancel()
			delete(cancels, req.ID)
			st := status.Convert(err)
			out.Encode(response{ID: req.ID, Code: int(st.Code()), Message: st.Message(), Body: base64.StdEncoding.EncodeToString(reply)})
		}(req)
	}
	wg.Wait()
}

func main() {
	socket := flag.String("socket", "", "path of the CRI Unix socket")
	form := flag.String("dial", "path", "how to dial: path (kubelet <= 1.30), localhost (kubelet >= 1.31) or empty")
	timeout := flag.Duration("timeout", 10*time.Second, "deadline of a single call (mode call)")
	flag.Parse()
	if *socket == "" || flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: cri-go-client -socket PATH [-dial path|localhost|empty] call METHOD [BASE64] | serve")
		os.Exit(2)
	}
	conn, err := dial(*socket, *form)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dial %s: %v\n", *socket, err)
		os.Exit(1)
	}
	defer conn.Close()
	switch flag.Arg(0) {
	case "serve":
		serve(conn)
	case "call":
		if flag.NArg() < 2 {
			fmt.Fprintln(os.Stderr, "call needs a METHOD")
			os.Exit(2)
		}
		body, err := base64.StdEncoding.DecodeString(flag.Arg(2))
		if err != nil {
			fmt.Fprintf(os.Stderr, "bad body: %v\n", err)
			os.Exit(2)
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		reply, err := invoke(ctx, conn, flag.Arg(1), body)
		if err != nil {
			st := status.Convert(err)
			fmt.Fprintf(os.Stderr, "%s %s\n", st.Code(), st.Message())
			os.Exit(1)
		}
		fmt.Println(base64.StdEncoding.EncodeToString(reply))
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", flag.Arg(0))
		os.Exit(2)
	}
}
