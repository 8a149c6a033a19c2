// Package twin runs a Go twin's repetitions inside one process, the way the C harness runs a
// cell's: the harness (runners/backend_ext.c) starts the twin once per cell process and feeds
// it one repetition at a time, so the warm-up repetitions settle the heap, the GC's pacing
// and the scheduler before the measured ones run in the same process.
//
// Protocol (the same for the Node twins, workloads/ref/node/common.js): CB_TWIN_FD names a
// Unix stream socket. Each repetition is one JSON line on it, {"args":[...]}, or, when the
// repetition comes with a listening socket (io.echo, mix.convoy), Node's handle envelope
// {"cmd":"NODE_HANDLE","type":"net.Native","msg":{"args":[...]}} with the socket attached
// (SCM_RIGHTS); it reaches the twin as --listen-fd N. The twin answers with its usual report
// line on stdout. EOF on the socket ends the process. Without CB_TWIN_FD the twin runs once
// from its command line, as hyperfine and a user run it.
package twin

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// The most descriptors one repetition's message carries (one listening socket).
const maxFds = 4

type request struct {
	Cmd  string   `json:"cmd"`
	Args []string `json:"args"`
	Msg  *struct {
		Args []string `json:"args"`
	} `json:"msg"`
}

// Main runs run once per repetition. run parses the repetition's flags with the flag
// package (a fresh flag.CommandLine each time) and prints one report line.
func Main(run func()) {
	env := os.Getenv("CB_TWIN_FD")
	if env == "" {
		run()
		return
	}
	fd, err := strconv.Atoi(env)
	if err != nil {
		fail("CB_TWIN_FD=%s: not a descriptor", env)
	}
	c, err := net.FileConn(os.NewFile(uintptr(fd), "twin"))
	if err != nil {
		fail("CB_TWIN_FD: %v", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		fail("CB_TWIN_FD: not a Unix socket")
	}
	prog := os.Args[0]
	var pending []byte
	var fds []int
	buf, oob := make([]byte, 65536), make([]byte, syscall.CmsgSpace(maxFds*4))
	for {
		nl := bytes.IndexByte(pending, '\n')
		if nl < 0 {
			n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
			if oobn > 0 {
				fds = append(fds, received(oob[:oobn])...)
			}
			if n == 0 && err != nil {
				return // the harness is done with this twin
			}
			pending = append(pending, buf[:n]...)
			continue
		}
		line := pending[:nl]
		pending = pending[nl+1:]
		var req request
		if err := json.Unmarshal(line, &req); err != nil {
			fail("bad request %q: %v", line, err)
		}
		args := req.Args
		if req.Msg != nil {
			args = req.Msg.Args
		}
		if req.Cmd == "NODE_HANDLE" {
			if len(fds) == 0 {
				fail("a handle message came without its descriptor")
			}
			args = append(args, "--listen-fd", strconv.Itoa(fds[0]))
			fds = fds[1:]
		}
		os.Args = append([]string{prog}, args...)
		flag.CommandLine = flag.NewFlagSet(prog, flag.ExitOnError)
		run()
	}
}

func received(oob []byte) []int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		fail("control message: %v", err)
	}
	var fds []int
	for _, m := range msgs {
		got, err := syscall.ParseUnixRights(&m)
		if err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "twin: "+format+"\n", a...)
	os.Exit(2)
}
