Console.Error.WriteLine("The listener arrives with issue 4.");
return 1;
