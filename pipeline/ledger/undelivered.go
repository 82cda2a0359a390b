package ledger

import "github.com/iocpipe/iocpipe/pipeline/ioc"

// Undelivered implements Ledger.
func (l *Bolt) Undelivered(key, sum string, rows ioc.Ranges) { l.reg.undelivered(key, sum, rows) }
