// Command go-reverse-proxy is bench:outbound's model of aws-outbound-jwt-proxy's
// data path (its internal/forwarder/forwarder.go): net/http/httputil.ReverseProxy
// over an http.Transport with MaxIdleConns 100, IdleConnTimeout 90s,
// ForceAttemptHTTP2, ResponseHeaderTimeout = the upstream timeout and
// FlushInterval -1, the Director setting Authorization: Bearer <jwt>. The JWT
// is fixed (no STS): this measures the data path only. Standard library only.
//
//	go-reverse-proxy -upstream 127.0.0.1:8081 -token eyJ... → prints the port it listens on
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"time"
)

func main() {
	upstream := flag.String("upstream", "", "upstream host:port (plain HTTP)")
	token := flag.String("token", "benchmark", "bearer token sent upstream")
	timeout := flag.Duration("timeout", 30*time.Second, "response header timeout")
	flag.Parse()

	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		ResponseHeaderTimeout: *timeout,
	}
	proxy := &httputil.ReverseProxy{
		Director: func(r *http.Request) {
			r.URL.Scheme = "http"
			r.URL.Host = *upstream
			r.Host = *upstream
			r.Header.Set("Authorization", "Bearer "+*token)
		},
		Transport:     transport,
		FlushInterval: -1,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	log.Fatal(http.Serve(ln, proxy))
}
