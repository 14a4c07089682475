package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// checkJoinMidStream: a go-zeromq PUSH → PULL conversation on lo that was
// already sending when zmtpdump started is decoded from the first frame
// boundary zmtpdump can prove: a resync line first, then every message,
// in order, from some message on, and certainly all those sent a second or
// more after zmtpdump said it was listening.
func checkJoinMidStream(e *env) (string, error) {
	if err := waitNoProgs("an earlier check"); err != nil {
		return "", err
	}
	const (
		srv      = "127.0.0.1:7005"
		sent     = 2000 // far more than the check waits for: the peers are killed
		settle   = time.Second
		watch    = 2 * time.Second // after settling
		interval = "50ms"
	)
	ep := "tcp://" + srv
	recv, err := livetest.StartReceiver(exec.Command(e.gozmq, "-type", "pull", "-bind", ep, "-count", fmt.Sprint(sent), "-print", "-timeout", "600s"))
	if err != nil {
		return "", err
	}
	defer recv.Kill()
	time.Sleep(300 * time.Millisecond) // let it bind; the sender retries anyway
	send := exec.Command(e.gozmq, "-type", "push", "-connect", ep, "-count", fmt.Sprint(sent), "-interval", interval, "-timeout", "600s")
	var sendOut livetest.Buffer
	send.Stdout, send.Stderr = &sendOut, &sendOut
	if err := send.Start(); err != nil {
		return "", fmt.Errorf("start the sender: %w", err)
	}
	defer func() {
		send.Process.Kill()
		send.Wait()
	}()
	if err := recv.WaitCount(10, startLimit); err != nil {
		return "sender:\n" + sendOut.String(), err
	}

	startLo := time.Now()
	d, err := startDump(e, "-i", "lo", "--port", "7005")
	if err != nil {
		return "", err
	}
	defer d.kill()
	startHi := time.Now()
	time.Sleep(settle + watch)
	stopAt := time.Now()
	out, errOut, stopErr := d.stop()
	details := "stdout:\n" + out + "stderr:\n" + errOut
	if stopErr != nil {
		return details, stopErr
	}

	before := len(recv.Between(time.Time{}, startLo))
	required := recv.Between(startHi.Add(settle), stopAt)
	if len(required) < 5 {
		return details, fmt.Errorf("only %d messages arrived in the %v watched: the check proves little", len(required), watch)
	}
	var problems []string
	if strings.Contains(out, "capture started mid-connection") {
		problems = append(problems, "zmtpdump gave up on the connection it joined")
	}
	toSrv := livetest.Lines(out, "> "+srv+": ")
	if len(toSrv) == 0 || !strings.Contains(toSrv[0], "resync:") {
		problems = append(problems, "the first line toward the server must be a resync: line")
	}
	message := regexp.MustCompile(`: message: "(\d+)"`)
	first, last := 0, 0
	for _, l := range toSrv {
		m := message.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		switch {
		case n <= before || n > sent:
			problems = append(problems, fmt.Sprintf("message %q decoded, but it was sent before zmtpdump started (%d were) or never", m[1], before))
		case first != 0 && n != last+1:
			problems = append(problems, fmt.Sprintf("message %d decoded after %d", n, last))
		}
		if first == 0 {
			first = n
		}
		last = n
	}
	reqFirst, _ := strconv.Atoi(required[0].Body)
	reqLast, _ := strconv.Atoi(required[len(required)-1].Body)
	if first == 0 || first > reqFirst || last < reqLast {
		problems = append(problems, fmt.Sprintf("decoded messages %d to %d; every message from %d (arrived %v after zmtpdump started) to %d must be there",
			first, last, reqFirst, settle, reqLast))
	}
	if d.stats(&problems).RingDrops != 0 {
		problems = append(problems, "packets were dropped")
	}
	if err := waitNoProgs("SIGINT"); err != nil {
		problems = append(problems, err.Error())
	}
	return details, joinProblems(problems)
}
