package main

// countOnly reports whether the capture runs in count mode
// (loader.Config.CountOnly): the kernel counts the message frames of the
// connections it follows and ships none of them. Only -q alone, whose
// table needs counts and no message, turns it on: not with -w (every
// packet), -v, --explain or --ladder (every message), -c (stops after N
// messages decoded), --pid/--comm (the gate of their owners), --json,
// nor when reading a file. The live status line stays: its messages are
// those decoded and counted. The kernel still ships the message frames of the
// directions that need them (see session.shipsMessages).
func (c *config) countOnly() bool {
	return c.summary && c.readFile == "" && c.writeFile == "" && !c.verbose && !c.json &&
		(c.explain == "" || c.explain == "never") && !c.ladder && c.count == 0 &&
		c.pid == 0 && c.comm == "" && c.frameKeep() > 0
}
